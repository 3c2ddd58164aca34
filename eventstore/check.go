package eventstore

import (
	"context"
	"fmt"
)

// CheckDense reports a stream that has lost messages, as an error wrapping
// ErrSequenceGap, and otherwise returns its last sequence. The stream denies
// deletes and purges, so a sound log holds every sequence from 1 to its last;
// but when JetStream recovers a damaged message block (a checksum that does
// not match, with no usable index) it drops the block's records from the bad
// one on, and the stream then holds fewer messages than sequences, or ends
// earlier than it did. One stream info request: cheap enough for every start.
func (s *Store) CheckDense(ctx context.Context) (last uint64, err error) {
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	info, err := s.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("eventstore: stream info: %w", err)
	}
	st := info.State
	if st.LastSeq == 0 && st.Msgs == 0 {
		return 0, nil
	}
	if st.FirstSeq != 1 || st.Msgs != st.LastSeq {
		return st.LastSeq, fmt.Errorf("%w: stream %s holds %d messages for sequences %d to %d: %d events lost",
			ErrSequenceGap, s.name, st.Msgs, st.FirstSeq, st.LastSeq, st.LastSeq-st.Msgs)
	}
	return st.LastSeq, nil
}
