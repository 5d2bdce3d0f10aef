package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// monitorTap counts the commands one Redis master processes, by key family
// and by hash tag, from its MONITOR stream: which kinds of keys make a
// master busier than the others. Commands run by scripts are in the stream
// too, as they are in INFO's total_commands_processed.
type monitorTap struct {
	addr string
	conn net.Conn
	done chan struct{}

	mu       sync.Mutex
	total    int64
	families map[string]int64 // "asynq:{…}:t", "w:{…}:o", "event:…", "INFO"...
	tags     map[string]int64 // the slot's owner: "asynq:{alerts-2}", "w:{merchant-03}"...
	err      error
}

// startMonitor opens a connection of its own to addr and starts counting.
func startMonitor(ctx context.Context, addr string) (*monitorTap, error) {
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("monitor %s: %w", addr, err)
	}
	if _, err := io.WriteString(conn, "MONITOR\r\n"); err != nil {
		conn.Close()
		return nil, fmt.Errorf("monitor %s: %w", addr, err)
	}
	rd := bufio.NewReaderSize(conn, 64<<10)
	_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	line, err := rd.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "+OK") {
		conn.Close()
		return nil, fmt.Errorf("monitor %s: %q %v", addr, line, err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	t := &monitorTap{addr: addr, conn: conn, done: make(chan struct{}), families: map[string]int64{}, tags: map[string]int64{}}
	go t.read(rd)
	return t, nil
}

func (t *monitorTap) read(rd *bufio.Reader) {
	defer close(t.done)
	for {
		// Only a line's start matters (the command and its first key): the
		// rest of a long line (a task's payload) is skipped.
		head, err := rd.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			head = slices.Clone(head)
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = rd.ReadSlice('\n')
			}
		}
		if err != nil {
			if !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
				t.mu.Lock()
				t.err = err
				t.mu.Unlock()
			}
			return
		}
		family, tag, ok := classifyMonitorLine(string(head))
		if !ok {
			continue
		}
		t.mu.Lock()
		t.total++
		t.families[family]++
		if tag != "" {
			t.tags[tag]++
		}
		t.mu.Unlock()
	}
}

// stop ends the stream and returns what was counted.
func (t *monitorTap) stop() keyCounts {
	_ = t.conn.Close()
	<-t.done
	t.mu.Lock()
	defer t.mu.Unlock()
	return keyCounts{total: t.total, families: maps.Clone(t.families), tags: maps.Clone(t.tags), err: t.err}
}

// keyCounts is what a monitorTap counted on one master.
type keyCounts struct {
	total    int64
	families map[string]int64
	tags     map[string]int64
	err      error
}

// share is one entry of a top list: a name and its part of the total.
type share struct {
	name string
	n    int64
}

// top is the most frequent entries of m, at most n of them.
func top(m map[string]int64, n int) []share {
	out := make([]share, 0, len(m))
	for k, v := range m {
		out = append(out, share{k, v})
	}
	slices.SortFunc(out, func(a, b share) int { return cmp.Or(cmp.Compare(b.n, a.n), strings.Compare(a.name, b.name)) })
	return out[:min(n, len(out))]
}

// keylessCommands have no key; they are counted by their name.
var keylessCommands = map[string]bool{
	"info": true, "cluster": true, "ping": true, "wait": true, "multi": true, "exec": true, "discard": true,
	"readonly": true, "readwrite": true, "client": true, "hello": true, "select": true, "script": true, "command": true,
	"config": true, "time": true, "dbsize": true, "scan": true, "keys": true, "flushall": true, "flushdb": true,
	"auth": true, "echo": true, "role": true, "publish": true, "subscribe": true, "psubscribe": true, "unwatch": true,
}

// classifyMonitorLine reads one MONITOR line, such as
//
//	1712345678.123456 [0 127.0.0.1:50312] "evalsha" "1f0e…" "2" "asynq:{alerts-2}:t:abc" …
//
// and tells the family of its command's first key and the hash tag that
// key's slot follows, if the key has one that is worth naming.
func classifyMonitorLine(line string) (family, tag string, ok bool) {
	i := strings.Index(line, "] \"")
	if i < 0 {
		return "", "", false
	}
	args := monitorArgs(line[i+2:], 4)
	if len(args) == 0 {
		return "", "", false
	}
	name := strings.ToLower(args[0])
	var key string
	switch {
	case keylessCommands[name]:
		return strings.ToUpper(name), "", true
	case strings.HasPrefix(name, "eval") || strings.HasPrefix(name, "fcall"):
		if len(args) >= 4 && args[2] != "0" {
			key = args[3]
		}
	case name == "memory" || name == "object" || name == "xinfo":
		if len(args) >= 3 {
			key = args[2]
		}
	case len(args) >= 2:
		key = args[1]
	}
	if key == "" {
		return strings.ToUpper(name), "", true
	}
	family, tag = keyFamily(key)
	return family, tag, true
}

// keyFamily masks the variable parts of key: its hash tag and whatever
// follows the segment after it ("w:{merchant-03}:o:fr:42" is "w:{…}:o"),
// or, without a tag, everything after the first segment ("event:…"), but
// for asynq's few global keys (asynq:queues, asynq:servers…), kept whole.
// tag is the key up to the end of its hash tag, which names its slot's
// owner ("w:{merchant-03}"), or the global key itself.
func keyFamily(key string) (family, tag string) {
	open := strings.IndexByte(key, '{')
	if open >= 0 {
		if n := strings.IndexByte(key[open+1:], '}'); n > 0 {
			end := open + 1 + n + 1
			rest := strings.TrimPrefix(key[end:], ":")
			if j := strings.IndexByte(rest, ':'); j >= 0 {
				rest = rest[:j]
			}
			family = key[:open] + "{…}"
			if rest != "" {
				family += ":" + rest
			}
			return family, key[:end]
		}
	}
	if strings.HasPrefix(key, "asynq:") && strings.Count(key, ":") == 1 {
		return key, key
	}
	if j := strings.IndexByte(key, ':'); j >= 0 {
		return key[:j] + ":…", ""
	}
	return key, key
}

// monitorArgs decodes up to n of the quoted arguments that MONITOR prints,
// each in double quotes with backslash escapes.
func monitorArgs(s string, n int) []string {
	var out []string
	for len(out) < n {
		s = strings.TrimLeft(s, " ")
		if !strings.HasPrefix(s, "\"") {
			break
		}
		var b strings.Builder
		i := 1
		closed := false
		for i < len(s) {
			c := s[i]
			if c == '"' {
				closed = true
				i++
				break
			}
			if c == '\\' && i+1 < len(s) {
				switch e := s[i+1]; e {
				case 'n':
					b.WriteByte('\n')
				case 'r':
					b.WriteByte('\r')
				case 't':
					b.WriteByte('\t')
				case 'a':
					b.WriteByte('\a')
				case 'b':
					b.WriteByte('\b')
				case 'x':
					if i+3 < len(s) {
						if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
							b.WriteByte(byte(v))
							i += 4
							continue
						}
					}
					b.WriteByte('x')
				default:
					b.WriteByte(e)
				}
				i += 2
				continue
			}
			b.WriteByte(c)
			i++
		}
		if !closed {
			break
		}
		out = append(out, b.String())
		s = s[i:]
	}
	return out
}
