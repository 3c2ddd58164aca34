package ledger

import (
	"testing"

	"github.com/benefits-ledger/ledger/domain"
)

// TestRollbackForgetsTheWholeBatch: a batch that was not stored is forgotten
// entirely, even when one of its events changed an older sale (recorded
// under the sale's earlier sequence, out of order). Before the fix rollback
// stopped at that entry and kept the batch's envelopes, so retried lines
// were acknowledged as duplicates of events that were never stored.
func TestRollbackForgetsTheWholeBatch(t *testing.T) {
	p := newPending()
	put := func(seq uint64, id, partner string) {
		p.envelopes[id] = envelopeRef{seq: seq, fp: domain.Fingerprint{}}
		p.add(seq, 'e', id)
		p.partners[partner] = seq
		p.add(seq, 'p', partner)
	}
	put(10, "kept", "P-1") // stored
	// The batch from 11 on: a new sale, then the cancellation of sale S-old
	// (stored at 5, before this batch), then another new sale.
	put(11, "sale-a", "P-2")
	p.sales["S-a"] = "P-2"
	p.add(11, 's', "S-a")
	put(12, "cancel-old", "P-1")
	p.sales["S-old"] = "P-1"
	p.add(5, 's', "S-old")
	put(13, "sale-b", "P-3")

	p.rollback(11)

	for _, id := range []string{"sale-a", "cancel-old", "sale-b"} {
		if _, ok := p.envelopes[id]; ok {
			t.Errorf("envelope %s of the rolled-back batch still pending", id)
		}
	}
	if _, ok := p.envelopes["kept"]; !ok {
		t.Error("envelope of the stored batch forgotten")
	}
	if _, ok := p.sales["S-a"]; ok {
		t.Error("sale of the rolled-back batch still pending")
	}
	if got := p.partners; len(got) != 1 || got["P-1"] != 10 {
		t.Errorf("pending partners %v, want only P-1 at 10", got)
	}
	for _, e := range p.order {
		if e.seq >= 11 {
			t.Errorf("entry %+v of the rolled-back batch still in order", e)
		}
	}
}
