package projections

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// bbolt splits a page that overflows at commit, filling each part to the
// bucket's FillPercent before starting the next. Half full (its default) is
// right when later keys land between the ones just written: a full page
// would split again at the next insert, and leave a nearly empty page
// behind. It is wrong when the keys just written are a run no later key
// falls inside — ids that grow (sequential sale ids, envelope ids counting
// up), or appends at the end: those pages are never written into again, and
// half full they stay half empty. Ids are the callers' (billing systems,
// publishers), so the fold looks at each batch.

const (
	// runFill is the fill for a batch written as runs: the pages it splits
	// stay as they are, and the 5% left is for values rewritten a little
	// longer.
	runFill = 0.95
	// runSample bounds the lookups fillFor makes: a pair of adjacent keys
	// from each of runSample equal stretches of the batch.
	runSample = 32
	// runShare is the share of sampled pairs with no stored key between
	// them that makes a batch runs. Random ids (UUIDs) into an index of
	// thousands give almost none; ids counting up give nearly all.
	runShare = 0.75
)

// fillFor returns the FillPercent to write ws (sorted by key, distinct)
// into b with: runFill when the keys are runs — no key already stored
// falls between most adjacent pairs of the batch — else bbolt's default.
func fillFor(b *bolt.Bucket, ws []write) float64 {
	if len(ws) < 2 {
		return bolt.DefaultFillPercent
	}
	pairs := len(ws) - 1
	strata := min(pairs, runSample)
	c := b.Cursor()
	runs := 0
	for j := range strata {
		// One pair from each of strata equal stretches, at a scrambled
		// offset: evenly spaced samples alias with ids that repeat a
		// pattern (a shorter id between every ten of a run counting up).
		lo, hi := j*pairs/strata, (j+1)*pairs/strata
		i := lo + int(uint64(j)*0x9E3779B97F4A7C15>>40)%(hi-lo)
		k, _ := c.Seek(ws[i].k)
		if k != nil && bytes.Equal(k, ws[i].k) {
			k, _ = c.Next() // an update: what follows the stored key
		}
		if k == nil || bytes.Compare(k, ws[i+1].k) >= 0 {
			runs++
		}
	}
	sampled := strata
	if float64(runs) >= runShare*float64(sampled) {
		return runFill
	}
	return bolt.DefaultFillPercent
}
