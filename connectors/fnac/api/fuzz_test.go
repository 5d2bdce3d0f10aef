package api

import (
	"strings"
	"testing"
)

// The fuzz targets feed every answer decoder arbitrary bytes: it must
// fail cleanly or return an answer within the bounds. Seeds are the
// recorded answers (testdata/fuzz) and a few hostile documents.

var hostile = []string{
	`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><auth_response status="OK">&b;</auth_response>`,
	`<?xml version="1.0"?><!DOCTYPE x SYSTEM "file:///etc/passwd"><auth_response status="OK"/>`,
	`<auth_response xmlns="http://www.fnac.com/schemas/mp-dialog.xsd" status="OK"/><auth_response/>`,
	`<?xml version="1.0" encoding="iso-8859-1"?><auth_response status="OK"/>`,
	`<messages_query_response xmlns="http://www.fnac.com/schemas/mp-dialog.xsd" status="OK">` + strings.Repeat("<message/>", MaxItems+1) + `</messages_query_response>`,
}

func fuzzDecode[T any](f *testing.F, check func(*testing.T, *T)) {
	for _, h := range hostile {
		f.Add([]byte(h))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v T
		if err := Decode(data, &v); err != nil {
			return
		}
		if check != nil {
			check(t, &v)
		}
	})
}

func FuzzAuthResponse(f *testing.F) {
	fuzzDecode(f, func(t *testing.T, r *AuthResponse) {
		if len(r.Errors) > MaxErrors {
			t.Errorf("%d errors", len(r.Errors))
		}
	})
}

func FuzzMessagesQueryResponse(f *testing.F) {
	fuzzDecode(f, func(t *testing.T, r *MessagesQueryResponse) {
		if len(r.Messages) > MaxItems || len(r.Errors) > MaxErrors {
			t.Errorf("%d messages, %d errors", len(r.Messages), len(r.Errors))
		}
		for _, m := range r.Messages {
			if len(m.Files) > MaxFiles {
				t.Errorf("%d files", len(m.Files))
			}
		}
	})
}

func FuzzMessagesUpdateResponse(f *testing.F) {
	fuzzDecode(f, func(t *testing.T, r *MessagesUpdateResponse) {
		if len(r.Messages) > MaxItems || len(r.Errors) > MaxErrors {
			t.Errorf("%d messages, %d errors", len(r.Messages), len(r.Errors))
		}
	})
}

func FuzzOrdersQueryResponse(f *testing.F) {
	f.Add([]byte(`<orders_query_response xmlns="http://www.fnac.com/schemas/mp-dialog.xsd" status="OK"><order><order_id>57BEAFDA828A8</order_id>` +
		strings.Repeat("<order_detail/>", MaxItems+1) + `</order></orders_query_response>`))
	fuzzDecode(f, func(t *testing.T, r *OrdersQueryResponse) {
		if len(r.Orders) > MaxItems || len(r.Errors) > MaxErrors {
			t.Errorf("%d orders, %d errors", len(r.Orders), len(r.Errors))
		}
		for _, o := range r.Orders {
			if len(o.Details) > MaxItems {
				t.Errorf("%d order lines", len(o.Details))
			}
		}
	})
}

func FuzzOrdersUpdateResponse(f *testing.F) {
	fuzzDecode(f, func(t *testing.T, r *OrdersUpdateResponse) {
		if len(r.Orders) > MaxItems || len(r.Errors) > MaxErrors {
			t.Errorf("%d orders, %d errors", len(r.Orders), len(r.Errors))
		}
		for _, o := range r.Orders {
			if len(o.Details) > MaxItems || len(o.Errors) > MaxErrors {
				t.Errorf("%d order lines, %d errors", len(o.Details), len(o.Errors))
			}
			for _, d := range o.Details {
				if len(d.Errors) > MaxErrors {
					t.Errorf("%d errors of a line", len(d.Errors))
				}
			}
		}
	})
}

func TestDecodeRefusesHostileXML(t *testing.T) {
	for i, h := range hostile[:5] {
		var a AuthResponse
		var q MessagesQueryResponse
		errA, errQ := Decode([]byte(h), &a), Decode([]byte(h), &q)
		if errA == nil && errQ == nil {
			t.Errorf("hostile document %d decoded", i)
		}
	}
	big := make([]byte, MaxAnswerBytes+1)
	if _, err := Read(strings.NewReader(string(big))); err == nil {
		t.Error("Read took an answer over the limit")
	}
}
