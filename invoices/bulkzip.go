package invoices

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// zipBatch is how many of a job's orders the zip looks up at a time: the
// numbers and records of a batch are in memory, the PDFs one at a time.
const zipBatch = 100

// WriteZip writes the zip of the PDFs of a finished job's invoices to w,
// in the job's order, one file per order that has an invoice, named by
// its number. It reads one PDF at a time (rendering one whose PDF was
// not kept), so that its memory does not grow with the job: only the
// archive's directory does, about 100 bytes a file. progress, when set,
// runs after each file (the HTTP side extends its write deadline and
// flushes). The same job gives the same bytes: each file is dated by its
// invoice and stored as is (a PDF's streams are compressed already).
func (b *Bulk) WriteZip(ctx context.Context, merchant string, job *Job, w io.Writer, progress func()) error {
	key := b.jobKey(merchant, job.ID)
	svc := b.maker.svc
	zw := zip.NewWriter(w)
	for start := 0; start < job.Total; start += zipBatch {
		ids, err := b.maker.rdb.LRange(ctx, key+":ids", int64(start), int64(start+zipBatch-1)).Result()
		if err != nil {
			return fmt.Errorf("invoices: read the bulk job's orders: %w", err)
		}
		if len(ids) == 0 {
			return ErrNoJob // expired while it was read
		}
		invs, err := b.records(ctx, merchant, job.Store, ids)
		if err != nil {
			return err
		}
		for _, inv := range invs {
			pdf, err := svc.PDF(ctx, merchant, inv)
			if err != nil {
				return err
			}
			modified := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
			if d, err := time.ParseInLocation(time.DateOnly, inv.Date, svc.loc); err == nil {
				modified = d
			}
			f, err := zw.CreateHeader(&zip.FileHeader{Name: strings.ReplaceAll(inv.Number, "/", "-") + ".pdf", Method: zip.Store, Modified: modified})
			if err != nil {
				return err
			}
			if _, err := f.Write(pdf); err != nil {
				return err
			}
			if progress != nil {
				progress()
			}
		}
	}
	return zw.Close()
}

// records reads the invoices of orders ids of store, in their order,
// leaving out those without one: two round trips for the batch.
func (b *Bulk) records(ctx context.Context, merchant, store string, ids []string) ([]*Invoice, error) {
	svc := b.maker.svc
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = svc.key(merchant, "o:"+store+":"+id)
	}
	numbers, err := b.maker.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("invoices: read the orders' invoice numbers: %w", err)
	}
	keys = keys[:0]
	for _, n := range numbers {
		if s, ok := n.(string); ok {
			keys = append(keys, svc.key(merchant, "r:"+store+":"+s))
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	recs, err := b.maker.rdb.MGet(ctx, keys...).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("invoices: read the invoices: %w", err)
	}
	out := make([]*Invoice, 0, len(recs))
	for i, r := range recs {
		s, ok := r.(string)
		if !ok {
			return nil, fmt.Errorf("invoices: the record of %s is missing", keys[i])
		}
		var inv Invoice
		if err := json.Unmarshal([]byte(s), &inv); err != nil {
			return nil, fmt.Errorf("invoices: record %s: %w", keys[i], err)
		}
		out = append(out, &inv)
	}
	return out, nil
}
