package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/benefits-ledger/ledger/eventstore"
	"github.com/benefits-ledger/ledger/internal/app"
	"github.com/benefits-ledger/ledger/internal/ledger"
	"github.com/benefits-ledger/ledger/internal/natsserver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// rawBatchPublish is the ceiling of the ledger's design for ingest: the same
// bytes appended as JetStream atomic batches of eventstore.MaxBatch (1,000)
// messages, one batch in flight, into a stream configured as the ledger's
// (file storage, SyncAlways), on a server of its own, over TCP. No
// validation, no decision, no idempotency, no projection: what the server's
// batch handling and one fsync per batch allow. Subjects spread over as
// many partners as the log has (by line number).
func rawBatchPublish(ctx context.Context, dir string, log *inputLog, partners int) (Rate, error) {
	store := filepath.Join(dir, "raw-batch-jetstream")
	srv, err := natsserver.Start(ctx, natsserver.Config{StoreDir: store, Port: -1, SyncAlways: true, Open: true})
	if err != nil {
		return Rate{}, err
	}
	defer os.RemoveAll(store)
	defer srv.Shutdown()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		return Rate{}, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return Rate{}, err
	}
	es, err := eventstore.Open(ctx, js)
	if err != nil {
		return Rate{}, err
	}
	partners = max(partners, 1)
	batch := make([]eventstore.Message, 0, eventstore.MaxBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := es.Append(ctx, batch, nil)
		batch = batch[:0]
		return err
	}
	i := 0
	start := time.Now()
	err = log.each(log.path, func(line []byte) error {
		batch = append(batch, eventstore.Message{Partner: "P-" + strconv.Itoa(i%partners), Type: "Raw", Data: append([]byte(nil), line...)})
		i++
		if len(batch) == eventstore.MaxBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return Rate{}, err
	}
	d := time.Since(start)
	if last, err := es.LastSeq(ctx); err != nil || last != uint64(log.lines) {
		return Rate{}, fmt.Errorf("raw batch stream holds %d messages (%v), want %d", last, err, log.lines)
	}
	return rate(log.lines, d), nil
}

// readDecode is the ceiling of projection and rebuild: the ledger's stream
// read with an ordered consumer and every stored event decoded, nothing
// folded or written.
func readDecode(ctx context.Context, l *app.Ledger) (Rate, error) {
	n := 0
	start := time.Now()
	err := l.EventStore().Read(ctx, 1, "", func(rs []eventstore.Record) error {
		for _, r := range rs {
			if _, err := ledger.DecodeRecorded(r); err != nil {
				return err
			}
		}
		n += len(rs)
		return nil
	})
	return rate(n, time.Since(start)), err
}
