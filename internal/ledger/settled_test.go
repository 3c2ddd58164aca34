package ledger

import (
	"fmt"
	"testing"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/eventstore"
)

// TestSettled: when only part of a group's events was stored, lines up to
// the first one not stored keep their answers (renumbered to where the
// events landed), and that line and all later ones are not recorded.
func TestSettled(t *testing.T) {
	ok := func(line int, seq uint64) LineResult { return LineResult{Line: line, OK: true, Seq: seq} }
	dup := func(line int, seq uint64) LineResult {
		return LineResult{Line: line, OK: true, Seq: seq, Duplicate: true}
	}
	rej := func(line int) LineResult { return LineResult{Line: line, Code: "invalid_field"} }
	no := LineResult{Code: domain.CodeStorageFull}
	// Predicted at 11..14: sub 1 = [new 11, dup of 3, rejected, new 12-13 (two events)], sub 2 = [new 14].
	group := func() *decision {
		return &decision{first: 11, subs: make([]*submission, 2), msgs: make([]eventstore.Message, 4),
			results: [][]LineResult{{ok(1, 11), dup(2, 3), rej(3), ok(4, 13)}, {ok(1, 14)}}}
	}
	tests := []struct {
		name  string
		first uint64
		n     int
		want  [][]LineResult
	}{
		{"nothing", 11, 0, [][]LineResult{{no, no, no, no}, {no}}},
		{"first event", 11, 1, [][]LineResult{{ok(1, 11), dup(2, 3), rej(3), no}, {no}}},
		{"half a line", 11, 2, [][]LineResult{{ok(1, 11), dup(2, 3), rej(3), no}, {no}}},
		{"all but last, elsewhere", 21, 3, [][]LineResult{{ok(1, 21), dup(2, 3), rej(3), ok(4, 23)}, {no}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := settled(group(), tt.first, tt.n, fmt.Errorf("%w: full", eventstore.ErrStorageFull))
			for i := range tt.want {
				for j, w := range tt.want[i] {
					g := got[i][j]
					if w.Code == domain.CodeStorageFull {
						if g.OK || g.Code != domain.CodeStorageFull {
							t.Errorf("sub %d line %d = %+v, want not recorded (storage_full)", i, j+1, g)
						}
						continue
					}
					if g.OK != w.OK || g.Seq != w.Seq || g.Duplicate != w.Duplicate || g.Code != w.Code {
						t.Errorf("sub %d line %d = %+v, want %+v", i, j+1, g, w)
					}
				}
			}
		})
	}
}
