package widgets

import (
	"archive/zip"
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"path"
	"strings"
	"time"
)

// The Zendesk sidebar app (ZAF v2), uploaded by a Zendesk admin as a
// private app. Sources relied on:
//   - developer.zendesk.com/apps/docs/apps-v2/setup: an app must hold
//     manifest.json, translations/en.json, assets/logo.png and
//     assets/logo-small.png; zendesk/app_scaffold's README gives the logo
//     sizes (320x320 and 128x128).
//   - developer.zendesk.com/apps/docs/apps-v2/manifest: location,
//     domainWhitelist as bare domains, parameters with "secure": true.
//   - zendesk/zendesk_apps_support, the validator behind uploads: the
//     manifest must be at the zip's root (a nested one is refused), author
//     and defaultLocale are required, author.url must be http(s), a secure
//     parameter should have no default (a warning otherwise).
//   - UNVERIFIED: "scopes" on secure parameters, which the validator warns
//     about when absent; their values were not found, so none are set.

//go:embed zendesk-app
var zendeskApp embed.FS

const zendeskAppDir = "zendesk-app"

// zendeskZipTime dates every file of the zip, so that one bridge URL
// always gives the same bytes.
var zendeskZipTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// zendeskManifest is the manifest.json this app uses; decoding the
// embedded one refuses a key it does not know, so that none is lost on
// the way into the zip.
type zendeskManifest struct {
	Name             string                                `json:"name"`
	Author           zendeskAuthor                         `json:"author"`
	DefaultLocale    string                                `json:"defaultLocale"`
	Private          bool                                  `json:"private"`
	Location         map[string]map[string]zendeskLocation `json:"location"`
	DomainWhitelist  []string                              `json:"domainWhitelist"`
	Parameters       []zendeskParameter                    `json:"parameters"`
	Version          string                                `json:"version"`
	FrameworkVersion string                                `json:"frameworkVersion"`
}

type zendeskAuthor struct {
	Name  string `json:"name"`
	Email string `json:"email,omitempty"`
	URL   string `json:"url,omitempty"`
}

type zendeskLocation struct {
	URL      string `json:"url"`
	Flexible bool   `json:"flexible"`
}

type zendeskParameter struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Required bool   `json:"required"`
	Secure   bool   `json:"secure"`
	Default  string `json:"default,omitempty"`
}

// ZendeskAppZip writes the uploadable zip of the Zendesk sidebar app for a
// bridge served at bridgeURL: the app's files at the zip's root, the
// manifest's domainWhitelist naming bridgeURL's host (Zendesk's proxy
// fills the secure token in only for those hosts) and the bridge_url
// setting defaulting to bridgeURL.
//
// bridgeURL must be an absolute https URL, without credentials, query or
// fragment; http is accepted for localhost and 127.0.0.1, for local
// testing. Nothing is written when it is refused.
func ZendeskAppZip(w io.Writer, bridgeURL string) error {
	base, err := zendeskBridgeURL(bridgeURL)
	if err != nil {
		return err
	}
	manifest, err := zendeskAppManifest(base)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(w)
	// WalkDir goes in lexical order: the zip's order is stable too.
	err = fs.WalkDir(zendeskApp, zendeskAppDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := strings.TrimPrefix(p, zendeskAppDir+"/")
		body := manifest
		if name != "manifest.json" {
			if body, err = zendeskApp.ReadFile(p); err != nil {
				return err
			}
		}
		f, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: zendeskZipTime})
		if err != nil {
			return err
		}
		_, err = f.Write(body)
		return err
	})
	if err != nil {
		return fmt.Errorf("zendesk app: write zip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("zendesk app: write zip: %w", err)
	}
	return nil
}

// zendeskBridgeURL checks bridgeURL and returns it without a trailing
// slash, as the app appends /v1/... to it.
func zendeskBridgeURL(bridgeURL string) (*url.URL, error) {
	refuse := func(why string) error {
		return fmt.Errorf("zendesk app: bridge URL %q: %s", bridgeURL, why)
	}
	u, err := url.Parse(strings.TrimSpace(bridgeURL))
	if err != nil {
		return nil, refuse("not a URL")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, refuse("want an absolute https URL, such as https://bridge.example.com")
	case host == "" || u.Opaque != "":
		return nil, refuse("has no host")
	case u.Scheme == "http" && host != "localhost" && host != "127.0.0.1":
		// The token goes to this URL: only https, but for local testing.
		return nil, refuse("must use https (http is accepted only for localhost and 127.0.0.1)")
	case u.User != nil:
		return nil, refuse("must not hold credentials: the app sends the sidebar token")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, refuse("must not have a query or fragment: the app appends the widget's path to it")
	}
	u.Host = strings.ToLower(u.Host)
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// zendeskAppManifest is the embedded manifest set for base.
func zendeskAppManifest(base *url.URL) ([]byte, error) {
	m, err := zendeskEmbeddedManifest()
	if err != nil {
		return nil, err
	}
	// Bare domains, as the manifest reference writes them: a port is not
	// part of a domain.
	m.DomainWhitelist = []string{base.Hostname()}
	m.Author.URL = base.String()
	found := false
	for i := range m.Parameters {
		if m.Parameters[i].Name == "bridge_url" {
			m.Parameters[i].Default = base.String()
			found = true
		}
	}
	if !found {
		return nil, errors.New("zendesk app: manifest.json has no bridge_url parameter")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	// A URL's & stays as is: the manifest is read by Zendesk, not a browser.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("zendesk app: encode manifest.json: %w", err)
	}
	return buf.Bytes(), nil
}

func zendeskEmbeddedManifest() (*zendeskManifest, error) {
	b, err := zendeskApp.ReadFile(path.Join(zendeskAppDir, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("zendesk app: read manifest.json: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m zendeskManifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("zendesk app: decode manifest.json: %w", err)
	}
	return &m, nil
}
