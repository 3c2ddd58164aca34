package gen

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"github.com/benefits-ledger/ledger/domain"
)

// Judging. Every emitted line is accepted by a fresh ledger because the
// generator decides it with the domain first, against the same facts a ledger
// would have when the line arrives.
//
// The default judge keeps one domain.Partner per partner and runs each input
// through domain.Decide and domain.Apply — the functions domain.Book.Submit
// runs after parsing — and skips what only costs time or memory here: parsing
// the line back (lines are encoded from the Input itself), the global index of
// envelope, offer and sale ids (unique by construction, each event routed to
// its partner by construction), and the Book's copy of the whole log. With
// Config.ReferenceBook a full domain.Book judges the submitted lines instead;
// the output is the same, byte for byte (a test checks it).
//
// Activations and contact reports are judged in batches of one partner's
// session, decided against the facts before the batch and then applied in
// order: the View the decider compiles (tiers, offers, grants) does not depend
// on activations, so a batch costs one compilation instead of one per event.
// A batch never holds two activations of the same benefit and offer, nor two
// contact reports of one benefit, nor a contact report and an activation of
// one benefit, so each decision is the one a ledger would make when the
// earlier lines of the batch had been recorded.

// submit judges ins (inputs of partner p, in order) and records, numbers and
// emits the accepted ones, reporting which were accepted in ok. The inputs'
// envelope ids are assigned here: consecutive numbers over emitted lines.
func (g *generator) submit(p *partner, ins []domain.Input, ok []bool) error {
	for i := range ins {
		if t := ins[i].Time.Unix(); t < g.start || t >= g.end {
			return fmt.Errorf("gen: internal error: %s at %s is outside the span", ins[i].Type, ins[i].Time.Format(time.RFC3339))
		}
	}
	if g.book != nil {
		for i := range ins {
			ins[i].ID = g.envelopeID()
			g.buf = appendLine(g.buf[:0], &ins[i])
			r := g.book.Submit(g.buf, g.now)
			ok[i] = r.Err == nil && !r.Duplicate
			if !ok[i] {
				g.lastErr = r.Err
				g.noteReject(&ins[i], r.Err)
				if r.Duplicate {
					g.lastErr = fmt.Errorf("duplicate of sequence %d", r.Seq)
				}
				continue
			}
			if err := g.out(); err != nil {
				return err
			}
		}
		return nil
	}
	if p.facts == nil {
		p.facts = domain.NewPartner(p.id)
	}
	g.events = g.events[:0]
	for i := range ins {
		evs, err := domain.Decide(p.facts, ins[i], g.now, g.pol)
		ok[i] = err == nil
		if err != nil {
			g.lastErr = err
			g.noteReject(&ins[i], err)
			continue
		}
		g.events = append(g.events, evs...)
	}
	k := 0
	for i := range ins {
		if !ok[i] {
			continue
		}
		e := g.events[k]
		k++
		ins[i].ID = g.envelopeID()
		e.ID = ins[i].ID
		g.seq++
		e.Seq = g.seq
		if err := domain.Apply(p.facts, e); err != nil {
			return fmt.Errorf("gen: applying %s: %w", e.Type, err)
		}
		g.buf = appendLine(g.buf[:0], &ins[i])
		if g.verify {
			if err := checkLine(g.buf, &ins[i], g); err != nil {
				return err
			}
		}
		if err := g.out(); err != nil {
			return err
		}
	}
	return nil
}

// must submits one input that the generator made valid by construction; a
// rejection is a bug of the generator (or of the domain) and stops it.
func (g *generator) must(p *partner, in domain.Input) error {
	g.one[0] = in
	if err := g.submit(p, g.one[:], g.oneOK[:]); err != nil {
		return err
	}
	if !g.oneOK[0] {
		b := appendLine(nil, &g.one[0])
		return fmt.Errorf("gen: internal error: line %d was rejected (%s: %v): %s", g.lines+1, domain.CodeOf(g.lastErr), g.lastErr, b)
	}
	return nil
}

// envelopeID is the id of the next emitted line: gen-<seed>-<n>.
func (g *generator) envelopeID() string {
	g.idBuf = append(g.idBuf[:0], g.idPrefix...)
	g.idBuf = strconv.AppendInt(g.idBuf, g.lines+1, 10)
	return string(g.idBuf)
}

// out emits the line in g.buf.
func (g *generator) out() error {
	g.lines++
	return g.emit(g.buf)
}

// checkLine parses an emitted line back and compares it with the Input it was
// encoded from (tests turn this on).
func checkLine(line []byte, in *domain.Input, g *generator) error {
	got, err := domain.ParseEnvelope(line, g.now)
	if err != nil {
		return fmt.Errorf("gen: line does not parse: %v: %s", err, line)
	}
	if got.ID != in.ID || got.Source != in.Source || got.Fingerprint() != in.Fingerprint() {
		return fmt.Errorf("gen: line does not encode its input %+v: %s", *in, line)
	}
	if bytes.ContainsAny(line, "\n\r") {
		return fmt.Errorf("gen: line contains a line break: %s", line)
	}
	return nil
}

// noteReject counts the candidates the judge refused, by type and code
// (tests look at them).
func (g *generator) noteReject(in *domain.Input, err error) {
	if g.rejects != nil {
		g.rejects[in.Type+" "+string(domain.CodeOf(err))]++
	}
}
