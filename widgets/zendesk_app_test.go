package widgets

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"image/png"
	"io"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func readZendeskAppFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := zendeskApp.ReadFile(path.Join(zendeskAppDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestZendeskAppManifest reads manifest.json as Zendesk would, without
// the Go types, and checks what an upload and the app rely on.
func TestZendeskAppManifest(t *testing.T) {
	t.Parallel()
	var m map[string]any
	if err := json.Unmarshal(readZendeskAppFile(t, "manifest.json"), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"name", "author", "defaultLocale", "private", "location", "domainWhitelist", "parameters", "version", "frameworkVersion"} {
		if _, ok := m[k]; !ok {
			t.Errorf("manifest.json has no %q", k)
		}
	}
	if m["frameworkVersion"] != "2.0" || m["private"] != true || m["defaultLocale"] != "en" {
		t.Errorf("frameworkVersion %v, private %v, defaultLocale %v; want 2.0, true, en", m["frameworkVersion"], m["private"], m["defaultLocale"])
	}
	if author, _ := m["author"].(map[string]any); author == nil || author["name"] == "" {
		t.Errorf("author = %v, want a name", m["author"])
	}

	loc := m["location"].(map[string]any)["support"].(map[string]any)["ticket_sidebar"]
	if diff := cmp.Diff(map[string]any{"url": "assets/iframe.html", "flexible": true}, loc); diff != "" {
		t.Errorf("location.support.ticket_sidebar (-want +got):\n%s", diff)
	}
	readZendeskAppFile(t, "assets/iframe.html")

	params := map[string]map[string]any{}
	for _, p := range m["parameters"].([]any) {
		p := p.(map[string]any)
		params[p["name"].(string)] = p
	}
	want := map[string]map[string]any{
		"bridge_url": {"name": "bridge_url", "type": "text", "required": true, "secure": false},
		"token":      {"name": "token", "type": "text", "required": true, "secure": true},
	}
	if diff := cmp.Diff(want, params); diff != "" {
		t.Errorf("parameters (-want +got):\n%s", diff)
	}
	if _, err := zendeskEmbeddedManifest(); err != nil {
		t.Errorf("the Go types do not cover manifest.json: %v", err)
	}
}

func TestZendeskAppZip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url       string
		host      string
		bridgeURL string
	}{
		{url: "https://bridge.example.com", host: "bridge.example.com", bridgeURL: "https://bridge.example.com"},
		{url: " HTTPS://Bridge.Example.com:8443/hb/ ", host: "bridge.example.com", bridgeURL: "https://bridge.example.com:8443/hb"},
		{url: "http://localhost:8080/", host: "localhost", bridgeURL: "http://localhost:8080"},
		{url: "http://127.0.0.1:8080", host: "127.0.0.1", bridgeURL: "http://127.0.0.1:8080"},
	}
	wantFiles := []string{
		"assets/app.js", "assets/iframe.html", "assets/logo-small.png", "assets/logo.png",
		"manifest.json", "translations/en.json", "translations/fr.json",
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			if err := ZendeskAppZip(&buf, tt.url); err != nil {
				t.Fatal(err)
			}
			zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			if err != nil {
				t.Fatal(err)
			}
			files := map[string][]byte{}
			var names []string
			for _, f := range zr.File {
				rc, err := f.Open()
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					t.Fatal(err)
				}
				names = append(names, f.Name)
				files[f.Name] = b
			}
			// Zendesk looks for manifest.json at the root, not in a folder.
			if diff := cmp.Diff(wantFiles, names); diff != "" {
				t.Errorf("zip entries (-want +got):\n%s", diff)
			}
			for _, name := range wantFiles {
				if name != "manifest.json" && !bytes.Equal(files[name], readZendeskAppFile(t, name)) {
					t.Errorf("%s differs from the embedded file", name)
				}
			}

			dec := json.NewDecoder(bytes.NewReader(files["manifest.json"]))
			dec.DisallowUnknownFields()
			var m zendeskManifest
			if err := dec.Decode(&m); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{tt.host}, m.DomainWhitelist); diff != "" {
				t.Errorf("domainWhitelist (-want +got):\n%s", diff)
			}
			if m.Author.URL != tt.bridgeURL {
				t.Errorf("author.url = %q, want %q", m.Author.URL, tt.bridgeURL)
			}
			for _, p := range m.Parameters {
				switch {
				case p.Name == "bridge_url" && p.Default != tt.bridgeURL:
					t.Errorf("bridge_url default = %q, want %q", p.Default, tt.bridgeURL)
				case p.Secure && p.Default != "":
					t.Errorf("secure parameter %s has a default: defaults are not stored securely", p.Name)
				}
			}

			var again bytes.Buffer
			if err := ZendeskAppZip(&again, tt.url); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), again.Bytes()) {
				t.Error("two zips for one URL differ")
			}
		})
	}
}

func TestZendeskAppZipRefusesBadURLs(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{
		"",
		"bridge.example.com",
		"/v1",
		"ftp://bridge.example.com",
		"javascript:alert(1)",
		"https:bridge.example.com",
		"https:///v1",
		"http://bridge.example.com",
		"http://localhost.example.com",
		"http://[::1]:8080",
		"https://user:secret@bridge.example.com",
		"https://bridge.example.com/?tenant=a",
		"https://bridge.example.com/?",
		"https://bridge.example.com/#top",
		"https://bridge example.com",
	} {
		var buf bytes.Buffer
		err := ZendeskAppZip(&buf, bad)
		if err == nil {
			t.Errorf("ZendeskAppZip(%q) accepted it", bad)
		} else if !strings.Contains(err.Error(), "bridge URL") {
			t.Errorf("ZendeskAppZip(%q) = %v, want an error naming the bridge URL", bad, err)
		}
		if buf.Len() != 0 {
			t.Errorf("ZendeskAppZip(%q) wrote %d bytes before refusing", bad, buf.Len())
		}
	}
}

// TestZendeskAppJSKeepsTheTokenSecret checks that app.js names the token
// only in a request Zendesk's proxy makes with the secure setting, and
// that it calls the bridge's Zendesk widget.
func TestZendeskAppJSKeepsTheTokenSecret(t *testing.T) {
	t.Parallel()
	js := string(readZendeskAppFile(t, "assets/app.js"))

	type span struct{ start, end int }
	var requests []span
	for i := 0; ; {
		j := strings.Index(js[i:], "client.request(")
		if j < 0 {
			break
		}
		start := i + j + len("client.request(")
		depth, end := 1, start
		for ; end < len(js) && depth > 0; end++ {
			switch js[end] {
			case '(':
				depth++
			case ')':
				depth--
			}
		}
		requests = append(requests, span{start, end})
		i = end
	}
	if len(requests) == 0 {
		t.Fatal("app.js makes no client.request")
	}
	secure := regexp.MustCompile(`\bsecure:\s*true\b`)
	proxied := regexp.MustCompile(`\bcors:\s*false\b`)
	calls := false
	for _, r := range requests {
		if strings.Contains(js[r.start:r.end], "'/v1/widgets/zendesk?email=' + encodeURIComponent(") {
			calls = true
		}
	}
	if !calls {
		t.Error("app.js does not request /v1/widgets/zendesk?email=...")
	}

	placeholders := regexp.MustCompile(`\{\{\s*setting\.[^}]*\}\}`).FindAllStringIndex(js, -1)
	if len(placeholders) == 0 {
		t.Fatal("app.js never sends {{setting.token}}")
	}
	for _, p := range placeholders {
		if got := js[p[0]:p[1]]; got != "{{setting.token}}" {
			t.Errorf("app.js uses %s; the only secure setting is {{setting.token}}", got)
		}
		i := slices.IndexFunc(requests, func(r span) bool { return r.start <= p[0] && p[1] <= r.end })
		if i < 0 {
			t.Errorf("{{setting.token}} at byte %d is outside any client.request", p[0])
			continue
		}
		body := js[requests[i].start:requests[i].end]
		if !secure.MatchString(body) || !proxied.MatchString(body) {
			t.Errorf("the request sending {{setting.token}} lacks secure: true or cors: false:\n%s", body)
		}
		if !strings.Contains(body, "Authorization: 'Bearer {{setting.token}}'") {
			t.Errorf("the token is not sent as a bearer Authorization header:\n%s", body)
		}
	}
	// Any other way out would bypass the proxy, and the token with it.
	for _, bypass := range []string{"fetch(", "XMLHttpRequest", "cors: true", "sendBeacon"} {
		if strings.Contains(js, bypass) {
			t.Errorf("app.js uses %s", bypass)
		}
	}
	for _, want := range []string{"ZAFClient.init()", "'ticket.requester.email'", "'ticket.requester.email.changed'", "client.invoke('resize', { width: '100%'", "response.html"} {
		if !strings.Contains(js, want) {
			t.Errorf("app.js lacks %s", want)
		}
	}
}

// zendeskSDKURL is the ZAF v2 SDK as Zendesk's app scaffold loads it
// (zendesk/app_scaffolds packages/basic/assets/iframe.html).
const zendeskSDKURL = "https://static.zdassets.com/zendesk_app_framework_sdk/2.0/zaf_sdk.min.js"

func TestZendeskAppIframe(t *testing.T) {
	t.Parallel()
	html := string(readZendeskAppFile(t, "assets/iframe.html"))
	refs := regexp.MustCompile(`\b(?:src|href)\s*=\s*"([^"]*)"`).FindAllStringSubmatch(html, -1)
	var got []string
	for _, r := range refs {
		got = append(got, r[1])
		if r[1] == zendeskSDKURL {
			continue
		}
		if strings.Contains(r[1], ":") || strings.HasPrefix(r[1], "//") || strings.HasPrefix(r[1], "/") {
			t.Errorf("iframe.html loads %s: the only external resource is the ZAF SDK", r[1])
			continue
		}
		readZendeskAppFile(t, path.Join("assets", r[1]))
	}
	if diff := cmp.Diff([]string{zendeskSDKURL, "app.js"}, got); diff != "" {
		t.Errorf("iframe.html's resources, in load order (-want +got):\n%s", diff)
	}
	if !strings.Contains(html, `id="hb-content"`) {
		t.Error(`iframe.html has no id="hb-content" for app.js to fill`)
	}
}

// zendeskJSONKeys lists the paths of every leaf of a JSON object.
func zendeskJSONKeys(t *testing.T, prefix string, v any) []string {
	t.Helper()
	obj, ok := v.(map[string]any)
	if !ok {
		return []string{prefix}
	}
	var keys []string
	for k, sub := range obj {
		keys = append(keys, zendeskJSONKeys(t, prefix+"."+k, sub)...)
	}
	slices.Sort(keys)
	return keys
}

func TestZendeskAppTranslations(t *testing.T) {
	t.Parallel()
	load := func(name string) any {
		var v any
		if err := json.Unmarshal(readZendeskAppFile(t, name), &v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return v
	}
	en, fr := load("translations/en.json"), load("translations/fr.json")
	if diff := cmp.Diff(zendeskJSONKeys(t, "", en), zendeskJSONKeys(t, "", fr)); diff != "" {
		t.Errorf("translation keys, en (-) and fr (+):\n%s", diff)
	}
	keys := zendeskJSONKeys(t, "", en)
	want := []string{".app.name"}
	m, err := zendeskEmbeddedManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Parameters {
		want = append(want, ".app.parameters."+p.Name+".label", ".app.parameters."+p.Name+".helpText")
	}
	for _, k := range want {
		if !slices.Contains(keys, k) {
			t.Errorf("translations/en.json has no %s", k)
		}
	}

	// The sidebar's own sentences live in app.js, between markers, as JSON.
	js := string(readZendeskAppFile(t, "assets/app.js"))
	start, end := strings.Index(js, "/* messages:begin */"), strings.Index(js, "/* messages:end */")
	if start < 0 || end < start {
		t.Fatal("app.js has no /* messages:begin */ ... /* messages:end */")
	}
	body := strings.TrimSpace(js[start+len("/* messages:begin */") : end])
	body = strings.TrimSuffix(strings.TrimPrefix(body, "const MESSAGES = "), ";")
	var messages map[string]map[string]any
	if err := json.Unmarshal([]byte(body), &messages); err != nil {
		t.Fatalf("app.js's messages are not JSON: %v", err)
	}
	if diff := cmp.Diff(zendeskJSONKeys(t, "", messages["en"]), zendeskJSONKeys(t, "", messages["fr"])); diff != "" {
		t.Errorf("app.js's message keys, en (-) and fr (+):\n%s", diff)
	}
	for lang, msgs := range messages {
		for k, s := range msgs {
			if s, _ := s.(string); strings.TrimSpace(s) == "" {
				t.Errorf("app.js: %s.%s is empty", lang, k)
			}
		}
	}
}

func TestZendeskAppLogos(t *testing.T) {
	t.Parallel()
	for name, size := range map[string]int{"assets/logo.png": 320, "assets/logo-small.png": 128} {
		b := readZendeskAppFile(t, name)
		cfg, err := png.DecodeConfig(bytes.NewReader(b))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if cfg.Width != size || cfg.Height != size {
			t.Errorf("%s is %dx%d, want %dx%d", name, cfg.Width, cfg.Height, size, size)
		}
		if len(b) > 4<<10 {
			t.Errorf("%s weighs %d bytes; keep it tiny", name, len(b))
		}
	}
}
