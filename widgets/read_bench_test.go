package widgets

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/helpdesk-bridge/bridge/orders"
)

// BenchmarkSidebarRead is a Gorgias sidebar's read of a customer's widget,
// kept rendered, through the routes, against a gin handler doing one GET
// of a value of the stored document's size on the same engine: what the
// read adds to such a GET.
func BenchmarkSidebarRead(b *testing.B) {
	f := newPreFixtureB(b)
	const customers = 1000
	ctx := context.Background()
	for i := range customers {
		email := "c" + strconv.Itoa(i) + "@example.com"
		for j := range 3 {
			id := strconv.Itoa(i) + "-" + strconv.Itoa(j)
			if _, err := f.store.Apply(ctx, orderChange(id, email, t0, t0.Add(time.Duration(j)*time.Minute), orders.StatusNew)); err != nil {
				b.Fatal(err)
			}
		}
	}
	doc := f.store.DocKey("acme", "c1@example.com")
	raw, err := f.rdb.Get(ctx, doc).Bytes()
	if err != nil {
		b.Fatal(err)
	}
	f.rdb.Set(ctx, "bench:doc", raw, 0)
	f.eng.GET("/baseline", func(c *gin.Context) {
		v, err := f.rdb.Get(c.Request.Context(), "bench:doc").Bytes()
		if err != nil {
			c.AbortWithStatus(500)
			return
		}
		c.Data(http.StatusOK, "application/json", v)
	})
	reqs := make([]*http.Request, customers)
	for i := range reqs {
		r := httptest.NewRequest(http.MethodGet, "/v1/widgets/gorgias?email=c"+strconv.Itoa(i)+"%40example.com", nil)
		r.Header.Set("Authorization", "Bearer "+tokGorgias)
		r.Header.Set("Accept-Encoding", "gzip")
		reqs[i] = r
	}
	// In parallel, so that the machine's cores are busy and ns/op is
	// CPU (the handler's and Redis's) rather than round trips.
	b.Run("widget", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(8)
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(n.Add(1))
				w := httptest.NewRecorder()
				f.eng.ServeHTTP(w, reqs[i%customers].Clone(ctx))
				if w.Code != 200 || w.Header().Get("Content-Encoding") != "gzip" {
					b.Error(w.Code, w.Body.String())
					return
				}
			}
		})
	})
	base := httptest.NewRequest(http.MethodGet, "/baseline", nil)
	b.Run("get", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				w := httptest.NewRecorder()
				f.eng.ServeHTTP(w, base.Clone(ctx))
				if w.Code != 200 {
					b.Error(w.Code)
					return
				}
			}
		})
	})
}
