package eventstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestRequestGivesUpOnLeaderChange: a request nobody will answer (it went to
// a leader that is gone) fails as soon as the leader changes, long before
// its timeout; one answered meanwhile is unaffected.
func TestRequestGivesUpOnLeaderChange(t *testing.T) {
	e := newEnv(t)
	s := e.store
	// A responder that never answers: the leader that stepped down.
	received := make(chan struct{}, 1)
	if _, err := e.nc.Subscribe("test.silent", func(*nats.Msg) { received <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	if _, err := e.nc.Subscribe("test.echo", func(m *nats.Msg) { m.Respond(m.Data) }); err != nil {
		t.Fatal(err)
	}
	e.nc.Flush()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := s.request(ctx, &nats.Msg{Subject: "test.silent"})
		done <- err
	}()
	<-received // the request is out: the change comes after it
	s.leader.Next()
	select {
	case err := <-done:
		if !errors.Is(err, errLeaderChanged) {
			t.Errorf("error %v, want errLeaderChanged", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the request was not abandoned on the leader change")
	}
	if resp, err := s.request(ctx, &nats.Msg{Subject: "test.echo", Data: []byte("x")}); err != nil || string(resp.Data) != "x" {
		t.Errorf("answered request: %v %v", resp, err)
	}

	// A read-only request is sent again after a change.
	calls := 0
	err := s.untilAnswered(ctx, func(ctx context.Context) error {
		calls++
		if calls == 1 {
			s.leader.Next()
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	})
	if err != nil || calls != 2 {
		t.Errorf("untilAnswered: %v after %d calls, want success on the 2nd", err, calls)
	}
}

// TestAppendWaitsOutAMissingLeader: with no stream to answer (as between
// two leaders), Append reports ErrUnavailable, not an unknown outcome:
// nothing was stored, and it retried until its context ended.
func TestAppendWaitsOutAMissingLeader(t *testing.T) {
	e := newEnv(t)
	s := e.store
	if err := e.js.DeleteStream(context.Background(), s.StreamName()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	_, err := s.Append(ctx, []Message{msg("P-1", "OfferPublished", 1), msg("P-1", "OfferPublished", 2)}, nil)
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrUnknownOutcome) {
		t.Errorf("error %v, want ErrUnavailable", err)
	}
}
