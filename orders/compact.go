package orders

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// Orders are stored as zstd frames of their JSON: an order, with the
// dictionary below, shrinks by half. Readers pay a few microseconds to
// decompress, against the tens that decoding the JSON costs anyway.
// Customers' documents were stored the same way, about a tenth of their
// JSON, before their binary form (docform.go); those are still read.
//
// Values written before compression, plain JSON, are still read: JSON
// starts with '{', a zstd frame with its magic number, so the two cannot
// be confused. Each is rewritten compressed by the next change that
// touches it.
var (
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
	// Frames keep their checksum (4 bytes): a flipped byte in a literal
	// could otherwise decode to valid JSON saying something else.
	// A 128 KB window holds a large customer's whole document, and keeps
	// each encoder's tables a few MB rather than the default's 8 MB ones.
	packer, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithWindowSize(128<<10),
		zstd.WithEncoderDictRaw(shapesID, []byte(shapes)))
	// The bound stops a corrupted or hostile frame from claiming more
	// memory than the largest document can take (500 orders of 500
	// lines, widgets.max_orders and the events' line limit, fit well
	// inside).
	unpacker, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxUnpacked), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderDictRaw(shapesID, []byte(shapes)))
)

// shapes is a dictionary the frames refer to: the field names and usual
// values of an order key's JSON and of a document's, made up. An order
// of a few hundred bytes has too little of its own to repeat; with it,
// its field names cost next to nothing (about a third less stored).
//
// A frame names its dictionary by shapesID, and every frame written with
// it must stay readable: never change shapes. A better one gets a new
// id, and the decoder keeps this one too. Documents' S2 blocks refer to
// it as well (docDict), by their format byte.
const (
	shapesID = 1
	shapes   = `{"order":{"v":{"updated_at":"2026-01-01T00:00:00Z","digest":"0000000000000000"},"email":"@example.com",` +
		`"order":{"id":"","store":"","marketplace":"","status":"Closed","marketplace_status":"","created_at":"2026-01-01T00:00:00Z",` +
		`"total":".00","currency":"EUR","url":"https://","support_url":"https://","buyer":{"name":"","phone":"+33 6 ","external_id":""},` +
		`"lines":[{"name":"","sku":"","quantity":1}],"shipments":null,"returns":null,"support_requests":null}},` +
		`"shipments":{"":{"v":{"updated_at":"2026-01-01T00:00:00Z","digest":""},"val":{"status":"delivered","carrier":"","tracking_number":"","tracking_url":"https://"}}},` +
		`"returns":{"":{"v":{"updated_at":"","digest":""},"val":{"tracking_number":"","refund_method":"","products":[{"name":"","sku":"","quantity":1,"damaged":false}]}}},` +
		`"support_requests":{"":{"v":{"updated_at":"","digest":""},"val":{"subject":"","url":"https://","updated_at":""}}}}` +
		`{"customer":{"email":"","orders_count":0},"orders":[{"id":"","store":"","marketplace":"","status":"Shipped","marketplace_status":"",` +
		`"created_at":"2026-01-01T00:00:00Z","total":"","currency":"EUR","url":"https://","buyer":{"name":"","phone":""},` +
		`"lines":[{"name":"","sku":"","quantity":1}],"shipments":[],"returns":[],"support_requests":[]}]}`
)

// maxUnpacked bounds a stored value's JSON.
const maxUnpacked = 256 << 20

// pack compresses a value's JSON.
func pack(js []byte) []byte {
	return packer.EncodeAll(js, make([]byte, 0, len(js)/3))
}

// unpack returns the JSON of a stored value, compressed or not.
func unpack(raw []byte) ([]byte, error) {
	if !bytes.HasPrefix(raw, zstdMagic) {
		return raw, nil // written before compression
	}
	js, err := unpacker.DecodeAll(raw, nil)
	if err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	return js, nil
}

// decodeAggregate reads an order key's value.
func decodeAggregate(raw []byte) (*aggregate, error) {
	js, err := unpack(raw)
	if err != nil {
		return nil, err
	}
	var agg aggregate
	if err := json.Unmarshal(js, &agg); err != nil {
		return nil, err
	}
	return &agg, nil
}

// encodeAggregate is an order key's value.
func encodeAggregate(agg *aggregate) ([]byte, error) {
	js, err := json.Marshal(agg)
	if err != nil {
		return nil, err
	}
	return pack(js), nil
}
