package rpc_test

// The bounds of a query request, against real ledgers: the instants a query
// may ask about, a min_seq the stream does not hold, strict decoding, clipped
// echoes of request fields, and the server-side deadline.

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/natsserver"
	"github.com/benefits-ledger/ledger/internal/rpc"
	"github.com/nats-io/nats.go"
)

// withPartner starts a ledger holding partner P-1 (one published offer) and
// returns an admin client.
func withPartner(t *testing.T) (*rpc.Client, uint64) {
	t.Helper()
	l := startLedger(t)
	c := adminClient(t, l)
	rs, err := c.Submit(ctxT(t), [][]byte{offer("O-1", 0)})
	if err != nil || len(rs) != 1 || !rs[0].OK {
		t.Fatalf("submit: %+v %v", rs, err)
	}
	return c, rs[0].Seq
}

// TestQueryInstantRange: an instant outside [MinQueryInstant,
// MaxQueryInstant] is refused with invalid_field naming at, on every
// endpoint that takes one. at=9999-12-31T23:59:59Z used to burn 40 s of CPU
// on attention and answer internal, and never to answer tier or benefits
// (a period ending past year 9999 cannot be encoded). The bounds themselves
// are answered.
func TestQueryInstantRange(t *testing.T) {
	c, _ := withPartner(t)
	max := ledger.MaxQueryInstant.Format(time.RFC3339Nano)
	min := ledger.MinQueryInstant.Format(time.RFC3339Nano)
	for _, ep := range []string{rpc.EndpointTier, rpc.EndpointBenefits, rpc.EndpointAttention} {
		for _, at := range []string{"9999-12-31T23:59:59Z", "2200-01-01T00:00:00.000000001Z", "1969-12-31T23:59:59.999999999Z",
			"0001-01-01T00:00:00Z", "2199-12-31T23:00:00.5-01:00"} {
			_, err := c.Query(ctxT(t), ep, ledger.Query{PartnerID: "P-1", At: at})
			wantCode(t, ep+" at "+at, err, domain.CodeInvalidField)
			if !strings.Contains(err.Error(), "at must be from") {
				t.Errorf("%s at %s: the message does not name at and its range: %v", ep, at, err)
			}
		}
		_, err := c.Query(ctxT(t), ep, ledger.Query{PartnerID: "P-1", At: "2024-01-01T00:00:00+24:00"})
		wantCode(t, ep+" at an offset of 24 hours", err, domain.CodeInvalidField)
		for _, at := range []string{max, min, "2199-12-31T23:59:59+23:59"} {
			if _, err := c.Query(ctxT(t), ep, ledger.Query{PartnerID: "P-1", At: at}); err != nil {
				t.Errorf("%s at %s: %v", ep, at, err)
			}
		}
	}
}

// TestQueryMinSeqBeyondStream: a min_seq past the stream's last sequence is
// refused at once with invalid_field naming min_seq, not waited for (a
// flood of min_seq=2^64-1 requests parked every worker for 2 s each and
// answered projection_behind). A recorded min_seq is answered.
func TestQueryMinSeqBeyondStream(t *testing.T) {
	c, seq := withPartner(t)
	for _, ep := range []string{rpc.EndpointTier, rpc.EndpointBenefits, rpc.EndpointHistory, rpc.EndpointAttention} {
		for _, min := range []uint64{math.MaxUint64, seq + 1} {
			_, err := c.Query(ctxT(t), ep, ledger.Query{PartnerID: "P-1", MinSeq: min})
			wantCode(t, fmt.Sprintf("%s min_seq %d", ep, min), err, domain.CodeInvalidField)
			if !strings.Contains(err.Error(), "min_seq") {
				t.Errorf("%s: the message does not name min_seq: %v", ep, err)
			}
		}
		if _, err := c.Query(ctxT(t), ep, ledger.Query{PartnerID: "P-1", MinSeq: seq}); err != nil {
			t.Errorf("%s min_seq %d (recorded): %v", ep, seq, err)
		}
	}
}

// TestQueryDecodingStrict: a query request is read as strictly as an input
// line: trailing data, names differing from the fields only in case,
// repeated names, invalid UTF-8 and anything but one object are refused
// with invalid_request naming the problem.
func TestQueryDecodingStrict(t *testing.T) {
	c, _ := withPartner(t)
	for _, tc := range []struct{ name, body, want string }{
		{"trailing garbage", `{"partner_id":"P-1"} x`, "after top-level value"},
		{"a second object", `{"partner_id":"P-1"}{"partner_id":"P-2"}`, "after top-level value"},
		{"name in another case", `{"Partner_ID":"P-1"}`, `"Partner_ID" is not a field`},
		{"repeated name", `{"partner_id":"P-1","partner_id":"P-2"}`, `duplicate name "partner_id"`},
		{"repeated name in another case", `{"partner_id":"P-1","PARTNER_ID":"P-2"}`, `"PARTNER_ID" is not a field`},
		{"unknown name", `{"partner_id":"P-1","tier":3}`, `"tier" is not a field`},
		{"invalid UTF-8", "{\"partner_id\":\"P-\xff\"}", "invalid UTF-8"},
		{"an array", `[{"partner_id":"P-1"}]`, "not a JSON object"},
		{"a wrong type", `{"partner_id":"P-1","known_seq":"1"}`, "known_seq"},
	} {
		_, err := c.Call(ctxT(t), rpc.EndpointTier, []byte(tc.body))
		wantCode(t, tc.name, err, domain.CodeInvalidRequest)
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: the message does not say %q: %v", tc.name, tc.want, err)
		}
	}
	for _, body := range []string{``, ` `, `{"partner_id":"P-1"}`, " {\"partner_id\" : \"P-1\", \"at\":\"2024-10-01T00:00:00Z\"}\r\n"} {
		if _, err := c.Call(ctxT(t), rpc.EndpointTier, []byte(body)); body != "" && body != " " && err != nil {
			t.Errorf("request %q: %v", body, err)
		}
	}
}

// TestQueryErrorsClipped: a huge request field is not echoed whole in the
// error (a 7 MB at came back whole).
func TestQueryErrorsClipped(t *testing.T) {
	c, _ := withPartner(t)
	huge := strings.Repeat("9", 7<<20)
	for _, tc := range []struct {
		name string
		q    ledger.Query
		body string
		code domain.Code
	}{
		{name: "at", q: ledger.Query{PartnerID: "P-1", At: huge}, code: domain.CodeInvalidField},
		{name: "at in range syntax", q: ledger.Query{PartnerID: "P-1", At: "2024-01-01T00:00:00." + huge + "+24:00"}, code: domain.CodeInvalidField},
		{name: "partner_id", q: ledger.Query{PartnerID: huge}, code: domain.CodeInvalidField},
		{name: "unknown name", body: `{"` + huge + `":1}`, code: domain.CodeInvalidRequest},
		{name: "a wrong type", body: `{"known_seq":` + huge + `}`, code: domain.CodeInvalidRequest},
	} {
		var err error
		if tc.body != "" {
			_, err = c.Call(ctxT(t), rpc.EndpointTier, []byte(tc.body))
		} else {
			_, err = c.Query(ctxT(t), rpc.EndpointTier, tc.q)
		}
		if domain.CodeOf(err) != tc.code {
			t.Fatalf("%s: got %v, want %s", tc.name, domain.CodeOf(err), tc.code)
		}
		if n := len(err.Error()); n > 1000 {
			t.Errorf("%s: a %d-byte error message echoes the field", tc.name, n)
		}
	}
}

// TestQueryTimeout: a query unanswered at the service's deadline is answered
// with code timeout: query computations check the request's deadline. The
// service here answers from the ledger's own query side with a deadline
// already past when a worker takes the request.
func TestQueryTimeout(t *testing.T) {
	l := startLedger(t)
	if _, err := adminClient(t, l).Submit(ctxT(t), [][]byte{offer("O-1", 0)}); err != nil {
		t.Fatal(err)
	}
	srv, err := natsserver.Start(ctxT(t), natsserver.Config{StoreDir: t.TempDir(), Port: -1, Open: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	w := ledger.NewWriter(domain.DefaultPolicy(), l.EventStore(), l.Models, l.Projector(), recorded(t, l), l.Logger())
	svc, err := rpc.Register(nc, w, l.Queries(), l.Logger(), rpc.WithTimeouts(time.Minute, time.Nanosecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop() })
	cnc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cnc.Close)
	c := rpc.NewClient(cnc)
	for _, ep := range []string{rpc.EndpointTier, rpc.EndpointBenefits, rpc.EndpointAttention} {
		_, err := c.Query(ctxT(t), ep, ledger.Query{PartnerID: "P-1"})
		wantCode(t, ep+" past its deadline", err, domain.CodeTimeout)
	}
}
