package discussions

import "testing"

func TestPlainText(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, in, want string }{
		{"plain text as is", "Hello,\nwhere is my parcel?", "Hello,\nwhere is my parcel?"},
		{"paragraphs and breaks", "<p>Hello Jeanne,</p><p>Your parcel left today.<br>Regards</p>", "Hello Jeanne,\n\nYour parcel left today.\nRegards"},
		{"links kept", `<p>Track it <a href="https://track.example/6A1">here</a>.</p>`, "Track it here (https://track.example/6A1)."},
		{"bare link once", `<a href="https://track.example/6A1">https://track.example/6A1</a>`, "https://track.example/6A1"},
		{"no script, no style", `<style>p{color:red}</style><p>Hi</p><script>alert(1)</script>`, "Hi"},
		{"lists", "<ul><li>Blue mug</li><li>Green tea</li></ul>", "- Blue mug\n- Green tea"},
		{"entities", "Fish &amp; chips &lt;3", "Fish & chips <3"},
		{"javascript link dropped", `<a href="javascript:alert(1)">click</a>`, "click"},
		{"spaces around inline tags", `<p>The <b>mug</b> is <i>on its way</i> &amp; the lid too.</p>`, "The mug is on its way & the lid too."},
		{"text after a list", `<ul><li>one</li><li>two</li></ul>after list`, "- one\n- two\n\nafter list"},
		{"link after a list", `<ul><li>two</li></ul><a href="https://x.example/p">see photo</a>`, "- two\n\nsee photo (https://x.example/p)"},
		{"plain text with markup-like characters", "Line one\nLine two\n\n  indented <not a tag> & <3", "Line one\nLine two\n\n  indented <not a tag> & <3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := PlainText(c.in); got != c.want {
				t.Errorf("PlainText(%q)\n got %q\nwant %q", c.in, got, c.want)
			}
		})
	}
}
