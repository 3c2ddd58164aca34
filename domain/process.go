package domain

import "time"

// Process runs one input line through the write-side pipeline: parse and
// validate, admit (the submitter's own check, nil for none), route through the
// global index, decide against the partner's facts. It returns the events to
// record, a coded rejection, or a *Duplicate. partner loads (or creates
// empty) the named partner's state.
func Process(dir Directory, partner func(id string) (*Partner, error), admit func(Input) error, raw []byte, now time.Time, pol *Policy) (Input, []Event, error) {
	in, err := ParseEnvelope(raw, now)
	if err != nil {
		return Input{}, nil, err
	}
	if admit != nil {
		if err := admit(in); err != nil {
			return in, nil, err
		}
	}
	pid, err := Route(dir, in)
	if err != nil {
		return in, nil, err
	}
	p, err := partner(pid)
	if err != nil {
		return in, nil, err
	}
	events, err := Decide(p, in, now, pol)
	return in, events, err
}
