package bench

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/benefits-ledger/ledger/domain"
	"github.com/benefits-ledger/ledger/internal/gen"
)

// inputLog is the generated log on disk: the whole of it, and the same lines
// split into one file per client with each partner's events in one file, in
// order. Keeping it on disk keeps a million lines out of the measured
// process's memory.
type inputLog struct {
	path   string
	shards []string
	lines  int
}

// writeLog generates the log into path and its shards.
func writeLog(cfg gen.Config, path string, shards int) (*inputLog, error) {
	log := &inputLog{path: path}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := bufio.NewWriterSize(f, 1<<20)
	files := make([]*os.File, shards)
	writers := make([]*bufio.Writer, shards)
	for i := range shards {
		name := filepath.Join(filepath.Dir(path), "shard-"+strconv.Itoa(i)+".ndjson")
		if files[i], err = os.Create(name); err != nil {
			return nil, err
		}
		defer files[i].Close()
		writers[i] = bufio.NewWriterSize(files[i], 1<<20)
		log.shards = append(log.shards, name)
	}
	route := partnerRouter()
	err = gen.Generate(cfg, func(line []byte) error {
		log.lines++
		out.Write(line)
		out.WriteByte('\n')
		w := writers[route(line)%shards]
		w.Write(line)
		return w.WriteByte('\n')
	})
	if err != nil {
		return nil, err
	}
	for _, w := range append(writers, out) {
		if err := w.Flush(); err != nil {
			return nil, err
		}
	}
	return log, nil
}

// partnerRouter maps a line to a number that is the same for every line of
// one partner: lines that name no partner (a delisting, a sale and its
// corrections) follow the offer or sale they name.
func partnerRouter() func([]byte) int {
	offerOf, saleOf := map[string]string{}, map[string]string{}
	future := time.Now().AddDate(10, 0, 0)
	return func(line []byte) int {
		in, err := domain.ParseEnvelope(line, future)
		if err != nil {
			return 0
		}
		p := ""
		switch d := in.Data.(type) {
		case domain.OfferPublished:
			p = d.PartnerID
			offerOf[d.OfferID] = p
		case domain.OfferDelisted:
			p = offerOf[d.OfferID]
		case domain.SaleBilled:
			p = offerOf[d.OfferID]
			saleOf[d.SaleID] = p
		case domain.SaleFlaggedFraud:
			p = saleOf[d.SaleID]
		case domain.SaleFraudCleared:
			p = saleOf[d.SaleID]
		case domain.PurchaseCancelled:
			p = saleOf[d.SaleID]
		case interface{ Partner() string }:
			p = d.Partner()
		}
		h := 0
		for i := 0; i < len(p); i++ {
			h = (h*31 + int(p[i])) & 0x7fffffff
		}
		return h
	}
}

// each calls fn with every line of a file (the slice is reused).
func (log *inputLog) each(path string, fn func([]byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if err := fn(sc.Bytes()); err != nil {
			return err
		}
	}
	return sc.Err()
}

// resetPeakRSS restarts the kernel's peak-RSS count (VmHWM) for this process.
func resetPeakRSS() {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		fmt.Fprintln(os.Stderr, "bench: cannot reset the peak RSS count:", err)
	}
}
