package projections

import (
	"errors"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/domain"
)

// TestTimesRoundTrip pins the time encoding (seconds, then nanoseconds)
// over the instants the ledger accepts and beyond what Unix nanoseconds
// could hold.
func TestTimesRoundTrip(t *testing.T) {
	for _, tm := range []time.Time{
		time.Unix(0, 0).UTC(),
		time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 3, 1, 12, 30, 5, 123456789, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2300, 1, 1, 0, 0, 0, 1, time.UTC), // past UnixNano's range (2262)
	} {
		e := newEnc()
		e.t(tm)
		d := newDec(e.b)
		got := d.t()
		if err := d.done(); err != nil || !got.Equal(tm) || got.Location() != time.UTC {
			t.Errorf("%s: decoded %s, %v", tm, got, err)
		}
	}
	// Nanoseconds of a second or more are corrupt, not carried over.
	e := newEnc()
	e.i(5)
	e.u(1e9)
	d := newDec(e.b)
	if d.t(); !errors.Is(d.done(), errCorrupt) {
		t.Errorf("nanoseconds ≥ 1e9 decoded without error")
	}
}

// TestEnvelopeValues round-trips the envelopes value and refuses any other
// shape.
func TestEnvelopeValues(t *testing.T) {
	var fp domain.Fingerprint
	fp[0], fp[len(fp)-1] = 1, 2
	for _, seq := range []uint64{1, 127, 128, 1 << 40} {
		got, gotFP, ok := decodeEnvelope(encodeEnvelope(seq, fp))
		if !ok || got != seq || gotFP != fp {
			t.Errorf("seq %d: decoded %d %x %v", seq, got, gotFP, ok)
		}
	}
	v := encodeEnvelope(300, fp)
	for name, bad := range map[string][]byte{"nil": nil, "short": v[:len(v)-1], "long": append(v, 0)} {
		if _, _, ok := decodeEnvelope(bad); ok {
			t.Errorf("%s value decoded", name)
		}
	}
}
