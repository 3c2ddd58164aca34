package app

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/rpc"
)

// TestAuditPages: a partner whose events make a document far over the
// 8 MiB message limit audits completely through pages, each reply under
// the limit, every event once and in order; filters by type and event time
// keep exactly the matching events.
func TestAuditPages(t *testing.T) {
	skipShort(t)
	l := start(t, Config{})
	const sales = 24_000
	mustAccept(t, submit(t, l.Writer(), offerLine("P-1", "O-1")))
	pad := make([]byte, 300)
	for i := range pad {
		pad[i] = 'x'
	}
	for b := 0; b < sales; b += ledger.MaxLines {
		var lines [][]byte
		for i := b; i < min(b+ledger.MaxLines, sales); i++ {
			lines = append(lines, saleLine(fmt.Sprintf("S-%06d-%s", i, pad[:100]), "O-1", 100, t0.Add(time.Duration(i)*time.Minute)))
		}
		mustAccept(t, submit(t, l.Writer(), lines...))
	}
	admin := connectAs(t, l, "admin")
	client := rpc.NewClient(admin.Conn)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	walk := func(q ledger.Query) (seqs []uint64, pages int) {
		t.Helper()
		q.PartnerID = "P-1"
		for {
			raw, err := client.Query(ctx, rpc.EndpointAudit, q)
			if err != nil {
				t.Fatalf("page %d: %v", pages+1, err)
			}
			if len(raw) >= 8<<20 {
				t.Fatalf("page %d is %d bytes", pages+1, len(raw))
			}
			var d ledger.AuditDoc
			if err := json.Unmarshal(raw, &d); err != nil {
				t.Fatal(err)
			}
			pages++
			for _, ev := range d.Events {
				seqs = append(seqs, ev.Seq)
			}
			if d.NextSeq == nil {
				return seqs, pages
			}
			q.FromSeq = *d.NextSeq
		}
	}
	seqs, pages := walk(ledger.Query{Limit: ledger.MaxPageLimit})
	if len(seqs) != sales+1 || pages < 3 {
		t.Fatalf("%d events in %d pages, want %d in several", len(seqs), pages, sales+1)
	}
	for i, s := range seqs {
		if s != uint64(i+1) {
			t.Fatalf("event %d has seq %d", i, s)
		}
	}
	// Types: the one publication; event time: sales 100..199.
	if seqs, _ := walk(ledger.Query{Types: []string{domain.TypeOfferPublished}}); !slices.Equal(seqs, []uint64{1}) {
		t.Errorf("types filter: %v", seqs)
	}
	seqs, _ = walk(ledger.Query{FromTime: t0.Add(100 * time.Minute).Format(time.RFC3339), ToTime: t0.Add(200 * time.Minute).Format(time.RFC3339), Limit: 7})
	if len(seqs) != 100 || seqs[0] != 102 || seqs[99] != 201 {
		t.Errorf("time filter: %d events, %v…", len(seqs), seqs[:min(3, len(seqs))])
	}
	for _, bad := range []ledger.Query{{Limit: ledger.MaxPageLimit + 1}, {Limit: -1}, {Types: []string{"Nope"}}, {FromTime: "soon"}} {
		bad.PartnerID = "P-1"
		if _, err := client.Query(ctx, rpc.EndpointAudit, bad); domain.CodeOf(err) != domain.CodeInvalidField {
			t.Errorf("audit %+v: %v, want invalid_field", bad, err)
		}
	}
}

// TestAttentionPages: the attention report read page by page (any page
// size, a page may end inside a partner's items) is the whole report, once
// and in order; partner_id and kinds narrow it.
func TestAttentionPages(t *testing.T) {
	l := start(t, Config{})
	var lines [][]byte
	for i := range 7 {
		p := fmt.Sprintf("P-%d", i)
		lines = append(lines, offerLine(p, "O-"+p), line("pub-list-"+p, domain.TypeOfferPublished, t0, map[string]any{"offer_id": "L-" + p,
			"partner_id": p, "publisher_id": "PUB", "listing_type": "list", "storefront": "appsource"}))
	}
	mustAccept(t, submit(t, l.Writer(), lines...))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	at := t0.AddDate(0, 3, 0).Format(time.RFC3339)
	whole, err := l.Queries().Attention(ctx, ledger.Query{At: at, Limit: ledger.MaxPageLimit})
	if err != nil || whole.Next != nil || len(whole.Items) < 7 {
		t.Fatalf("whole report: %d items, next %v, %v", len(whole.Items), whole.Next, err)
	}
	for _, limit := range []int{1, 2, 3, 5} {
		var got []domain.AttentionItem
		q := ledger.Query{At: at, Limit: limit}
		for pages := 0; ; pages++ {
			d, err := l.Queries().Attention(ctx, q)
			if err != nil || len(d.Items) > limit {
				t.Fatalf("limit %d page %d: %d items, %v", limit, pages+1, len(d.Items), err)
			}
			got = append(got, d.Items...)
			if d.Next == nil {
				break
			}
			q.From = *d.Next
		}
		if !slices.Equal(got, whole.Items) {
			t.Errorf("limit %d: pages give %d items, the whole report %d", limit, len(got), len(whole.Items))
		}
	}
	one, err := l.Queries().Attention(ctx, ledger.Query{At: at, PartnerID: "P-3"})
	if err != nil || len(one.Items) == 0 {
		t.Fatalf("partner P-3: %+v %v", one, err)
	}
	for _, it := range one.Items {
		if it.PartnerID != "P-3" {
			t.Errorf("partner filter let through %+v", it)
		}
	}
	none, err := l.Queries().Attention(ctx, ledger.Query{At: at, Kinds: []string{domain.AttentionFraudHold}})
	if err != nil || len(none.Items) != 0 {
		t.Errorf("kinds fraud_hold: %+v %v", none.Items, err)
	}
	if _, err := l.Queries().Attention(ctx, ledger.Query{At: at, Kinds: []string{"everything"}}); domain.CodeOf(err) != domain.CodeInvalidField {
		t.Errorf("unknown kind: %v", err)
	}
	if _, err := l.Queries().Attention(ctx, ledger.Query{At: at, From: "P-1#x"}); domain.CodeOf(err) != domain.CodeInvalidField {
		t.Errorf("bad cursor: %v", err)
	}
}
