package api

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fuzz targets feed every answer decoder arbitrary bytes: it must
// fail cleanly or return an answer within the bounds. Seeds are the
// recorded samples (the fake's testdata) and a few hostile documents.

var hostile = []string{
	`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><getitemtodolistresult>&b;</getitemtodolistresult>`,
	`<?xml version="1.0"?><!DOCTYPE x SYSTEM "file:///etc/passwd"><errorresponse/>`,
	`<getnewsalesresult/><getnewsalesresult/>`,
	`<?xml version="1.0" encoding="utf-16"?><getnewsalesresult/>`,
	`<getitemtodolistresult><response><items>` + strings.Repeat("<item/>", MaxItems+1) + `</items></response></getitemtodolistresult>`,
	`<getiteminfosresult><response><item>` + strings.Repeat("<message/>", MaxMessages+1) + `</item></response></getiteminfosresult>`,
}

func seeds(f *testing.F) {
	files, _ := filepath.Glob("../rakutenfake/testdata/*.xml")
	if len(files) == 0 {
		f.Fatal("no samples to seed from")
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, "ISO-8859-1")
	}
	for _, h := range hostile {
		f.Add([]byte(h), "")
	}
}

func fuzzDecode[T any](f *testing.F, check func(*testing.T, *T)) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte, charset string) {
		var v T
		if err := Decode(data, charset, &v); err != nil {
			return
		}
		check(t, &v)
	})
}

func checkSales(t *testing.T, r SalesResponse) {
	if len(r.Sales) > MaxSales {
		t.Errorf("%d sales", len(r.Sales))
	}
	for _, s := range r.Sales {
		if len(s.Items) > MaxItems {
			t.Errorf("%d items", len(s.Items))
		}
	}
}

func FuzzGetNewSales(f *testing.F) {
	fuzzDecode(f, func(t *testing.T, r *GetNewSalesResult) { checkSales(t, r.Response) })
}

func FuzzGetCurrentSales(f *testing.F) {
	fuzzDecode(f, func(t *testing.T, r *GetCurrentSalesResult) { checkSales(t, r.Response) })
}

func FuzzGetItemTodoList(f *testing.F) {
	fuzzDecode(f, func(t *testing.T, r *GetItemTodoListResult) {
		if len(r.Response.Items) > MaxItems {
			t.Errorf("%d items", len(r.Response.Items))
		}
	})
}

func FuzzGetItemInfos(f *testing.F) {
	fuzzDecode(f, func(t *testing.T, r *GetItemInfosResult) {
		it := r.Response.Item
		if len(it.Messages) > MaxMessages || len(it.Mails) > MaxMessages || len(it.Logs) > MaxMessages {
			t.Errorf("%d messages, %d mails, %d logs", len(it.Messages), len(it.Mails), len(it.Logs))
		}
	})
}

func FuzzStatusResult(f *testing.F) {
	fuzzDecode(f, func(t *testing.T, r *StatusResult) {})
}

func FuzzGetBillingInformation(f *testing.F) {
	fuzzDecode(f, func(t *testing.T, r *GetBillingInformationResult) {
		if len(r.Response.Items) > MaxItems {
			t.Errorf("%d items", len(r.Response.Items))
		}
	})
}

func FuzzErrorResponse(f *testing.F) {
	fuzzDecode(f, func(t *testing.T, r *ErrorResponse) {
		if len(r.Errors) > MaxErrors {
			t.Errorf("%d errors", len(r.Errors))
		}
	})
}

func TestDecodeRefusesHostileXML(t *testing.T) {
	for i, h := range hostile {
		var todo GetItemTodoListResult
		var news GetNewSalesResult
		var infos GetItemInfosResult
		var er ErrorResponse
		if Decode([]byte(h), "", &todo) == nil || Decode([]byte(h), "", &news) == nil || Decode([]byte(h), "", &infos) == nil || Decode([]byte(h), "", &er) == nil {
			if i != 2 && i != 3 { // the others must fail for every type
				t.Errorf("hostile document %d decoded", i)
			}
		}
	}
	if _, err := Read(strings.NewReader(strings.Repeat(" ", MaxAnswerBytes+1))); err == nil {
		t.Error("Read took an answer over the limit")
	}
}

// An answer in ISO-8859-1 that declares nothing is read by its
// Content-Type's charset.
func TestLatin1FromTheContentType(t *testing.T) {
	data := []byte("<contactuseraboutitemresult><response><status>SENT \xe9t\xe9</status></response></contactuseraboutitemresult>")
	var r StatusResult
	if err := Decode(data, "ISO-8859-1", &r); err != nil || r.Response.Status != "SENT été" {
		t.Errorf("status %q, %v", r.Response.Status, err)
	}
	if err := Decode(data, "", &r); err == nil {
		t.Error("invalid UTF-8 decoded without a charset")
	}
}
