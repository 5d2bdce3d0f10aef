package widgets

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// Orders and documents are stored as zstd frames of their JSON: a
// customer's document repeats its field names and products order after
// order, and shrinks about sixfold; an order, about a third. Readers pay a
// few microseconds to decompress, against the tens that decoding the JSON
// costs anyway.
//
// Values written before compression, plain JSON, are still read: JSON
// starts with '{', a zstd frame with its magic number, so the two cannot
// be confused. Each is rewritten compressed by the next change that
// touches it.
var (
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
	// Frames keep their checksum (4 bytes): a flipped byte in a literal
	// could otherwise decode to valid JSON saying something else.
	packer, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault))
	// The bound stops a corrupted or hostile frame from claiming more
	// memory than the largest document can take (500 orders of 500
	// lines, widgets.max_orders and the events' line limit, fit well
	// inside).
	unpacker, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxUnpacked))
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
