package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Environment overrides of the deployment-level settings. They let one file
// serve every environment, and a platform that hands out credentials as
// variables needs no templating. An override that is set but empty is
// ignored, as container tools often pass empty variables through.
//
//	BRIDGE_LISTEN              server.listen
//	BRIDGE_ADMIN_USERNAME      server.admin.username
//	BRIDGE_ADMIN_PASSWORD      server.admin.password
//	BRIDGE_REDIS_URL           redis.url
//	BRIDGE_REDIS_PASSWORD      redis.password
//	BRIDGE_REDIS_KEY_PREFIX    redis.key_prefix
//	BRIDGE_WORKER_CONCURRENCY  worker.concurrency
var envOverrides = []struct {
	env  string
	path []string
}{
	{"BRIDGE_LISTEN", []string{"server", "listen"}},
	{"BRIDGE_ADMIN_USERNAME", []string{"server", "admin", "username"}},
	{"BRIDGE_ADMIN_PASSWORD", []string{"server", "admin", "password"}},
	{"BRIDGE_REDIS_URL", []string{"redis", "url"}},
	{"BRIDGE_REDIS_PASSWORD", []string{"redis", "password"}},
	{"BRIDGE_REDIS_KEY_PREFIX", []string{"redis", "key_prefix"}},
	{"BRIDGE_WORKER_CONCURRENCY", []string{"worker", "concurrency"}},
}

// Load reads the configuration file at path; see Parse.
func Load(path string, lookupEnv func(string) (string, bool)) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, lookupEnv)
}

// Parse decodes a YAML configuration strictly, expands ${VAR} references
// through lookupEnv (os.LookupEnv when nil), applies the environment
// overrides and the defaults, and validates the result. Every problem
// found is returned at once, as Problems.
func Parse(data []byte, lookupEnv func(string) (string, bool)) (*Config, error) {
	cfg, problems := parse(data, lookupEnv)
	if len(problems) > 0 {
		return nil, problems
	}
	return cfg, nil
}

// Check lists every problem of the configuration file at path, for the
// `config check` command; it is empty when the file is good. No message
// holds a secret's value.
func Check(path string, lookupEnv func(string) (string, bool)) Problems {
	data, err := os.ReadFile(path)
	if err != nil {
		return Problems{{Message: err.Error()}}
	}
	_, problems := parse(data, lookupEnv)
	return problems
}

func parse(data []byte, lookupEnv func(string) (string, bool)) (*Config, Problems) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	root, problems := parseYAML(data)
	if len(problems) > 0 {
		return nil, problems
	}
	if root != nil && !isNull(root) && root.Kind != yaml.MappingNode {
		// Nothing else could be read: say only that.
		return nil, Problems{{Line: root.Line, Message: "the file must be a mapping of settings, got " + kindName(root)}}
	}
	// Each override becomes a ${VAR} reference in the tree, so that it is
	// read, and its problems reported, like a value of the file.
	overridden := map[string]string{} // YAML path → variable
	for _, o := range envOverrides {
		if v, ok := lookupEnv(o.env); ok && v != "" {
			root = setScalar(root, o.path, "${"+o.env+"}")
			overridden[strings.Join(o.path, ".")] = o.env
		}
	}

	d := decoder{lookupEnv: lookupEnv, lines: map[string]int{}, refs: map[string]string{}}
	var cfg Config
	d.decode(root, reflect.ValueOf(&cfg).Elem(), "")
	d.splitRedisURL(&cfg.Redis)
	cfg.ApplyDefaults()

	// A field the decoder could not read fails validation too, often as
	// "is required": keep only the decoder's more precise problem.
	decoded := map[string]bool{}
	for _, p := range d.problems {
		decoded[p.Field] = true
	}
	problems = d.problems
	if _, err := LogLevel(lookupEnv); err != nil {
		problems = append(problems, Problem{Message: err.Error()})
	}
	for _, p := range cfg.problems() {
		if !decoded[p.Field] {
			problems = append(problems, p)
		}
	}
	for i := range problems {
		p := &problems[i]
		if p.Line == 0 {
			p.Line = d.line(p.Field)
		}
		// An overridden value has no line to look at.
		if env, ok := overridden[p.Field]; ok && !strings.Contains(p.Message, env) {
			p.Message += " (from " + env + ")"
		}
	}
	// In file order, for the reader going through it.
	slices.SortStableFunc(problems, func(a, b Problem) int { return a.Line - b.Line })
	return &cfg, problems
}

var yamlLineError = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML returns the root node of the file's only document, nil when
// the file is empty.
func parseYAML(data []byte) (*yaml.Node, Problems) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, Problems{syntaxProblem(err)}
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, Problems{syntaxProblem(err)}
	default:
		// A second document would be silently ignored.
		return nil, Problems{{Line: next.Line, Message: "the file must hold a single YAML document"}}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

func syntaxProblem(err error) Problem {
	m := yamlLineError.FindStringSubmatch(err.Error())
	if m == nil {
		return Problem{Message: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	line, _ := strconv.Atoi(m[1])
	return Problem{Line: line, Message: "invalid YAML: " + m[2]}
}

// setScalar sets the value at path in a mapping tree, creating the
// mappings on the way. The new node has no line: it is not in the file.
func setScalar(root *yaml.Node, path []string, value string) *yaml.Node {
	if root == nil || isNull(root) {
		root = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	}
	n := root
	for i, key := range path {
		if n.Kind != yaml.MappingNode {
			// Not a place for settings (or an alias, which other places
			// share): the decoder reports what is there.
			return root
		}
		last := i == len(path)-1
		var child *yaml.Node
		if last {
			child = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value}
		} else {
			child = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		}
		found := false
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value != key {
				continue
			}
			found = true
			v := n.Content[j+1]
			if last || isNull(v) {
				n.Content[j+1] = child
			}
			child = n.Content[j+1]
			break
		}
		if !found {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, child)
		}
		n = child
	}
	return root
}

// decoder turns the YAML tree into a Config. It walks the tree against
// the Go types itself, rather than leaving it to yaml.v3, so that one walk
// knows each value's YAML path and line, expands ${VAR} references with
// that path at hand, keeps each Secret's reference, and reports every
// problem instead of the first.
type decoder struct {
	lookupEnv func(string) (string, bool)
	problems  Problems
	// lines maps a YAML path to its line, to place validation problems.
	lines map[string]int
	// refs maps the YAML path of a value read through ${VAR} to its text.
	refs map[string]string
}

var (
	secretType   = reflect.TypeFor[Secret]()
	durationType = reflect.TypeFor[time.Duration]()
)

func (d *decoder) problem(path string, line int, msg string) {
	d.problems = append(d.problems, Problem{Field: path, Line: line, Message: msg})
}

// line is the line of path, or of its nearest ancestor in the file.
func (d *decoder) line(path string) int {
	for path != "" {
		if l, ok := d.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n == nil {
		return
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if isNull(n) {
		return
	}
	switch {
	case v.Type() == secretType:
		d.secret(n, v, path)
	case v.Type() == durationType:
		if s, ok := d.scalar(n, path); ok {
			dur, err := time.ParseDuration(s)
			if err != nil {
				d.problem(path, n.Line, "must be a duration such as 30s, 5m or 24h, got "+d.quote(s, path))
				return
			}
			v.SetInt(int64(dur))
		}
	case v.Kind() == reflect.Struct:
		d.mapping(n, v, path)
	case v.Kind() == reflect.Pointer && v.Type().Elem().Kind() == reflect.Struct:
		// An optional section: present once it is written.
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.mapping(n, v.Elem(), path)
	case v.Kind() == reflect.Pointer && (v.Type().Elem().Kind() == reflect.Bool || v.Type().Elem().Kind() == reflect.Int):
		// A switch whose default is on, a number whose default is not 0:
		// nil tells "not written" from false or 0.
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case v.Kind() == reflect.Slice:
		d.sequence(n, v, path)
	case v.Kind() == reflect.Map && v.Type().Key().Kind() == reflect.String:
		d.stringMap(n, v, path)
	case v.Kind() == reflect.String:
		if s, ok := d.scalar(n, path); ok {
			v.SetString(s)
		}
	case v.Kind() == reflect.Int || v.Kind() == reflect.Int64:
		if s, ok := d.scalar(n, path); ok {
			i, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				d.problem(path, n.Line, "must be a whole number, got "+d.quote(s, path))
				return
			}
			v.SetInt(int64(i))
		}
	case v.Kind() == reflect.Bool:
		if s, ok := d.scalar(n, path); ok {
			b, err := strconv.ParseBool(s)
			if err != nil {
				d.problem(path, n.Line, "must be true or false, got "+d.quote(s, path))
				return
			}
			v.SetBool(b)
		}
	default:
		// A field type added without teaching the decoder: check must
		// still finish.
		d.problem(path, n.Line, fmt.Sprintf("cannot be read: no decoding for %s", v.Type()))
	}
}

// quote shows a value that could not be read, and the reference it came
// from. It is never called for a Secret.
func (d *decoder) quote(s, path string) string {
	if raw, ok := d.refs[path]; ok {
		return fmt.Sprintf("%q (from %s)", s, raw)
	}
	return strconv.Quote(s)
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.problem(path, n.Line, "must be a mapping of keys, got "+kindName(n))
		return
	}
	fields := map[string]int{}
	var names []string
	for i := range v.NumField() {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			fields[name] = i
			names = append(names, name)
		}
	}

	// Merged mappings first, so that the keys written here win, as YAML's
	// merge key specifies.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Tag == "!!merge" {
			d.merge(n.Content[i+1], v, path)
		}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" {
			continue
		}
		p := join(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.problem(p, k.Line, fmt.Sprintf("duplicate key %q, first given on line %d", k.Value, first))
			continue
		}
		seen[k.Value] = k.Line
		idx, ok := fields[k.Value]
		if !ok {
			d.problem(p, k.Line, fmt.Sprintf("unknown key %q (known keys here: %s)", k.Value, strings.Join(names, ", ")))
			continue
		}
		line := k.Line
		if val.Line == 0 {
			line = 0 // an environment override, not in the file
		}
		d.lines[p] = line
		f := v.Field(idx)
		f.Set(reflect.Zero(f.Type()))
		d.decode(val, f, p)
	}
}

func (d *decoder) merge(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.SequenceNode {
		for _, m := range n.Content {
			d.merge(m, v, path)
		}
		return
	}
	d.mapping(n, v, path)
}

// stringMap reads a mapping whose keys are data, not setting names (a
// store's per-SKU VAT rates).
func (d *decoder) stringMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.problem(path, n.Line, "must be a mapping of keys, got "+kindName(n))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		p := join(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.problem(p, k.Line, fmt.Sprintf("duplicate key %q, first given on line %d", k.Value, first))
			continue
		}
		seen[k.Value] = k.Line
		d.lines[p] = k.Line
		e := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, e, p)
		m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), e)
	}
	v.Set(m)
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.problem(path, n.Line, "must be a list, got "+kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines[p] = item.Line
		d.decode(item, s.Index(i), p)
	}
	v.Set(s)
}

// scalar reads a plain value and expands its ${VAR} references.
func (d *decoder) scalar(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.problem(path, n.Line, "must be a single value, got "+kindName(n))
		return "", false
	}
	if !strings.Contains(n.Value, "${") {
		return n.Value, true
	}
	d.refs[path] = n.Value
	var b strings.Builder
	ok := true
	rest := n.Value
	for {
		before, after, found := strings.Cut(rest, "${")
		b.WriteString(before)
		if !found {
			break
		}
		name, tail, closed := strings.Cut(after, "}")
		if !closed || !envName.MatchString(name) {
			d.problem(path, n.Line, fmt.Sprintf("malformed reference in %q: write ${NAME}, NAME made of letters, digits and _", n.Value))
			return "", false
		}
		val, set := d.lookupEnv(name)
		if !set {
			d.problem(path, n.Line, "environment variable "+name+" is not set")
			ok = false
		}
		b.WriteString(val)
		rest = tail
	}
	return b.String(), ok
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// secret reads a Secret, which must be exactly one ${VAR} reference: a
// value written in the file would end up in version control. No problem
// it reports shows what was written.
func (d *decoder) secret(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.problem(path, n.Line, "must be a ${ENV_VAR} reference, got "+kindName(n))
		return
	}
	if n.Value == "" {
		return // as if left out
	}
	name, ok := strings.CutPrefix(n.Value, "${")
	name, closed := strings.CutSuffix(name, "}")
	if !ok || !closed || !envName.MatchString(name) {
		d.problem(path, n.Line, "must be a ${ENV_VAR} reference, not a literal")
		return
	}
	val, set := d.lookupEnv(name)
	if !set {
		d.problem(path, n.Line, "environment variable "+name+" is not set")
		return
	}
	v.Set(reflect.ValueOf(Secret{value: val, Ref: n.Value}))
}

// splitRedisURL moves a password out of the Redis URL into the Password
// secret, so that the URL can be printed and logged like any setting. A
// platform's REDIS_URL often carries one.
func (d *decoder) splitRedisURL(r *Redis) {
	u, err := url.Parse(r.URL)
	if err != nil || u.User == nil {
		return
	}
	pw, has := u.User.Password()
	if !has {
		return
	}
	const path = "redis.url"
	raw, fromEnv := d.refs[path]
	switch {
	case !fromEnv:
		d.problem(path, d.lines[path], "must not hold a literal password: give it in redis.password as a ${ENV_VAR} reference")
	case !r.Password.IsZero():
		d.problem(path, d.lines[path], "holds a password and redis.password is set too: give only one")
	default:
		r.Password = Secret{value: pw, Ref: raw}
	}
	// Even when it is a problem, the password must not stay in the URL.
	if name := u.User.Username(); name != "" {
		u.User = url.User(name)
	} else {
		u.User = nil
	}
	r.URL = u.String()
}

func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return "a single value"
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
