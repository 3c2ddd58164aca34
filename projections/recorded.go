package projections

import (
	"encoding/binary"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	bolt "go.etcd.io/bbolt"
)

// The recorded index answers "what did the ledger know at instant T?": it
// maps the ledger's recorded clock (Ledger-Recorded) to the last sequence
// recorded at or before it. The writer keeps its clock non-decreasing, so
// the events recorded at or before T are a prefix of the log. Should an
// event ever carry an earlier instant than one before it (two writers with
// skewed clocks), it counts from the latest instant recorded before it: the
// index is of high-water marks, and never claims knowledge earlier than
// the log shows it. One entry per instant — per written group, not per
// event: 16 bytes a group.
var (
	bucketRecorded = []byte("recorded")    // recorded instant (unix ns, big-endian) → last seq recorded by then
	keyRecordedHW  = []byte("recorded_hw") // meta: the latest recorded instant folded (unix ns)
)

// recordedIndex collects a batch's entries.
type recordedIndex struct {
	hw     int64
	writes map[int64]uint64
}

func loadRecordedIndex(meta *bolt.Bucket) *recordedIndex {
	ri := &recordedIndex{writes: map[int64]uint64{}}
	if v := meta.Get(keyRecordedHW); len(v) == 8 {
		ri.hw = int64(binary.BigEndian.Uint64(v))
	}
	return ri
}

// add notes an event: its sequence is known from max(its instant, hw) on.
func (ri *recordedIndex) add(e domain.Event) {
	ri.hw = max(ri.hw, e.Recorded.UnixNano())
	ri.writes[ri.hw] = e.Seq
}

func (ri *recordedIndex) flush(tx *bolt.Tx) error {
	if len(ri.writes) == 0 {
		return nil
	}
	b, err := tx.CreateBucketIfNotExists(bucketRecorded)
	if err != nil {
		return err
	}
	for t, seq := range ri.writes {
		if err := b.Put(u64(uint64(t)), u64(seq)); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketMeta).Put(keyRecordedHW, u64(uint64(ri.hw)))
}

// KnownAt returns the last sequence the ledger had recorded at or before t,
// and 0 when it had recorded nothing by then.
func (s *Store) KnownAt(t time.Time) (uint64, error) {
	var seq uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRecorded)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		key := u64(uint64(t.UnixNano()))
		k, v := c.Seek(key)
		if k == nil || string(k) != string(key) {
			k, v = c.Prev()
		}
		if k != nil {
			seq = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return seq, err
}

// RecordedHighWater returns the latest recorded instant folded (the zero
// time when nothing was): the writer's clock never goes below it.
func (s *Store) RecordedHighWater() (time.Time, error) {
	var t time.Time
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyRecordedHW); len(v) == 8 {
			t = time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC()
		}
		return nil
	})
	return t, err
}
