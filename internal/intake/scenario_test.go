package intake_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/benefits-ledger/ledger/internal/app"
	"github.com/benefits-ledger/ledger/internal/auth"
	"github.com/benefits-ledger/ledger/internal/cloudevents"
	"github.com/benefits-ledger/ledger/internal/intake"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/rpc"
	"github.com/benefits-ledger/ledger/internal/scenario"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// intakeLedger runs a scenario through the intake: every line published as
// one message, in binary mode when the envelope has a binary form
// (structured otherwise: a line that is not an envelope has none), its
// outcome read from OUTCOMES; queries through ledger.tier/benefits.
type intakeLedger struct {
	t  *testing.T
	l  *app.Ledger
	nc *nats.Conn
	js jetstream.JetStream
}

func (il intakeLedger) Submit(lines [][]byte) ([]scenario.LineResult, error) {
	ctx := ctxT(il.t)
	binaries := 0
	for i, line := range lines {
		m := nats.NewMsg(fmt.Sprintf("ledger.intake.scenario.%d", i))
		if h, data, ok := cloudevents.ToBinary(line); ok {
			for k, v := range h {
				m.Header.Set(k, v)
			}
			m.Data = data
			binaries++
		} else {
			m.Data = line
		}
		if len(m.Data) == 0 {
			m.Data = []byte(" ") // a blank line: one message still
		}
		if _, err := il.js.PublishMsg(ctx, m); err != nil {
			return nil, fmt.Errorf("line %d: publish: %w", i+1, err)
		}
	}
	il.t.Logf("%d of %d lines published in binary mode", binaries, len(lines))
	var rs []scenario.LineResult
	for i, o := range outcomes(il.t, il.js, auth.Admin, len(lines)) {
		if o.IntakeSeq != uint64(i+1) {
			return nil, fmt.Errorf("outcome %d: intake_seq %d", i+1, o.IntakeSeq)
		}
		rs = append(rs, scenario.LineResult{OK: o.OK, Seq: o.Seq, Duplicate: o.Duplicate, Code: string(o.Code)})
	}
	return rs, nil
}

func (il intakeLedger) Query(kind, partner, at string, known uint64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return rpc.NewClient(il.nc).Query(ctx, kind, ledger.Query{PartnerID: partner, At: at, KnownSeq: known})
}

// TestScenariosThroughTheIntake: every acceptance scenario, published
// through the intake in binary mode, meets the same expectations (outcomes
// per line, tier and benefits answers) as through ledger submit
// (cmd/ledger TestScenariosEndToEnd).
func TestScenariosThroughTheIntake(t *testing.T) {
	scenario.RunEach(t, func(t *testing.T) scenario.Ledger {
		l := start(t, intake.Settings{})
		nc, js := connect(t, l, "admin")
		return intakeLedger{t, l, nc, js}
	})
}
