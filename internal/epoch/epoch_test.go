package epoch

import "testing"

// TestNextEndsOnlyTheCurrentEpoch: an epoch is done exactly when Next is
// called after it was handed out, and the next one is not.
func TestNextEndsOnlyTheCurrentEpoch(t *testing.T) {
	w := New()
	first := w.Current()
	if first.Err() != nil {
		t.Fatal("a fresh epoch is done")
	}
	w.Next()
	if first.Err() == nil {
		t.Fatal("Next left the old epoch running")
	}
	second := w.Current()
	if second == first || second.Err() != nil {
		t.Fatal("Next did not start a fresh epoch")
	}
	var none *Watch
	if none.Current() != nil {
		t.Fatal("a nil watch has an epoch")
	}
}
