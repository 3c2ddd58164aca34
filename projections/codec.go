package projections

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/benefits-ledger/ledger/domain"
)

// Facts are stored in a compact binary form: varints, length-prefixed strings
// and times as Unix seconds and nanoseconds. It is deterministic (the digest depends on
// it), several times faster than JSON, and keeps the file — and the mapped
// memory it costs — small. Every value starts with its codec version.
const codecVersion = 3

var errCorrupt = errors.New("projections: corrupt value")

type enc struct{ b []byte }

// encRoom is the room a new encoder makes before append has to grow it:
// most values (an offer, an activation, a metric report, a small
// partner's core) fit, and growing from one byte took seven allocations
// for a value of 200 bytes.
const encRoom = 256

func newEnc() *enc { return &enc{b: append(make([]byte, 0, encRoom), codecVersion)} }

func (e *enc) u(v uint64)              { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) i(v int64)               { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) t(v time.Time)           { e.i(v.Unix()); e.u(uint64(v.Nanosecond())) }
func (e *enc) fp(f domain.Fingerprint) { e.b = append(e.b, f[:]...) }

func (e *enc) s(v string) {
	e.u(uint64(len(v)))
	e.b = append(e.b, v...)
}

func (e *enc) flag(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

func (e *enc) stamp(s domain.Stamp) {
	e.u(s.Seq)
	e.t(s.Time)
	e.s(s.Event)
}

type dec struct {
	b   []byte
	err error
}

func newDec(b []byte) *dec {
	d := &dec{b: b}
	if len(b) == 0 || b[0] != codecVersion {
		d.err = fmt.Errorf("%w: codec version", errCorrupt)
		return d
	}
	d.b = b[1:]
	return d
}

func (d *dec) u() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) i() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

// t decodes a time: Unix seconds, then nanoseconds (one byte for the
// whole seconds that events carry, where Unix nanoseconds took nine).
func (d *dec) t() time.Time {
	sec := d.i()
	nsec := d.u()
	if nsec >= 1e9 {
		d.err = errCorrupt
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

func (d *dec) s() string {
	n := d.u()
	if d.err != nil || uint64(len(d.b)) < n {
		d.err = errCorrupt
		return ""
	}
	v := string(d.b[:n])
	d.b = d.b[n:]
	return v
}

func (d *dec) flag() bool {
	if d.err != nil || len(d.b) < 1 {
		d.err = errCorrupt
		return false
	}
	v := d.b[0] == 1
	d.b = d.b[1:]
	return v
}

func (d *dec) fp() domain.Fingerprint {
	var f domain.Fingerprint
	if d.err != nil || len(d.b) < len(f) {
		d.err = errCorrupt
		return f
	}
	copy(f[:], d.b)
	d.b = d.b[len(f):]
	return f
}

func (d *dec) stamp() domain.Stamp {
	return domain.Stamp{Seq: d.u(), Time: d.t(), Event: d.s()}
}

// count reads a slice length, refusing one longer than the remaining bytes.
func (d *dec) count() int {
	n := d.u()
	if n > uint64(len(d.b)) {
		d.err = errCorrupt
		return 0
	}
	return int(n)
}

// done reports a decoding error or trailing bytes.
func (d *dec) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(d.b))
	}
	return d.err
}
