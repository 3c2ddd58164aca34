package gen

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/benefits-ledger/ledger/domain"
)

// Kinds of scheduled items.
const (
	kJoin       = iota // the partner's first publication; plans the rest of its life
	kPublish           // x: offer; a=1: a republication
	kDelist            // x: offer
	kEnrol             //
	kContact           // a=1: a replacement contact
	kSale              // the partner's next planned sale
	kFlag              // n: sale, a: 0 suspected, 1 confirmed
	kClear             // n: sale
	kCancel            // n: sale, a: reason
	kMetric            // a: metric (0 teams_mau, 1 bizapps_value) | replacement<<1; n: period
	kSession           // the partner activates benefits
	kContactRun        // the rewards team reports contacts; n: benefit mask
	kOptOut            // x: benefit or -1; n: offer or -1
	kOptIn             // same scope as the opt-out
	kSanction          // a=1: a sanction after a reinstatement
	kReinstate         //
)

var cancelReasons = []string{"accidental", "before-use", "other"}

var grounds = []string{"illegal-activity", "fraudulent-purchase", "delisted", "ip-violation", "sponsorship-violation"}

func (g *generator) handle(it item) error {
	p := g.ps[it.p]
	switch it.kind {
	case kJoin:
		return g.join(p)
	case kPublish:
		return g.publish(p, int(it.x), it.t, it.a == 1)
	case kDelist:
		return g.delist(p, int(it.x), it.t)
	case kEnrol:
		return g.enrol(p, it.t)
	case kContact:
		return g.contact(p, it.t, it.a == 1)
	case kSale:
		return g.sale(p, it.t)
	case kFlag:
		return g.flag(p, it)
	case kClear:
		return g.clear(p, it)
	case kCancel:
		if err := g.must(p, g.input(domain.TypePurchaseCancelled, srcBilling, it.t,
			domain.PurchaseCancelled{SaleID: saleID(it.n), Reason: cancelReasons[it.a]})); err != nil {
			return err
		}
		g.ctl.corrections++
		return nil
	case kMetric:
		return g.metric(p, it)
	case kSession:
		return g.session(p, it.t)
	case kContactRun:
		return g.contactRun(p, it.t, uint64(it.n))
	case kOptOut, kOptIn:
		return g.opt(p, it)
	case kSanction:
		return g.sanction(p, it.t, it.a == 1)
	case kReinstate:
		if err := g.must(p, g.input(domain.TypePartnerReinstated, srcCompliance, it.t, domain.PartnerReinstated{PartnerID: p.id})); err != nil {
			return err
		}
		if g.chance(0.15) {
			if t := it.t + g.uniform(60*day, 700*day); t < g.end-day {
				g.schedule(item{kind: kSanction, t: t, p: it.p, a: 1})
			}
		}
		return nil
	}
	return fmt.Errorf("gen: unknown item kind %d", it.kind)
}

// join publishes the partner's first offer and sets its life in motion.
func (g *generator) join(p *partner) error {
	pi := int32(p.idx)
	if err := g.publish(p, 0, p.join, false); err != nil {
		return err
	}
	for i, o := range p.offers[1:] {
		g.schedule(item{kind: kPublish, t: o.pubAt, p: pi, x: int32(i + 1)})
	}
	if p.enrolAt != 0 {
		g.schedule(item{kind: kEnrol, t: p.enrolAt, p: pi})
	}
	if p.sanctionAt != 0 {
		g.schedule(item{kind: kSanction, t: p.sanctionAt, p: pi})
	}
	if p.optAt != 0 {
		it := item{kind: kOptOut, t: p.optAt, p: pi, x: -1, n: -1}
		switch g.weighted(50, 25, 25) {
		case 0:
			it.x = int32(g.rng.IntN(len(g.benefit)))
		case 1:
			it.n = 0
		}
		g.schedule(it)
	}
	for i, m := range []metric{p.mau, p.biz} {
		if m.from != 0 {
			g.scheduleMetric(p, uint8(i), m.from)
		}
	}
	if p.seller {
		p.sales = g.saleTimes(p)
		g.ctl.remaining += len(p.sales) - p.nSales
		g.nextSale(p)
	}
	return nil
}

func (g *generator) publish(p *partner, k int, t int64, again bool) error {
	o := p.offers[k]
	if err := g.must(p, g.input(domain.TypeOfferPublished, srcCatalog, t, domain.OfferPublished{
		OfferID: o.id, PartnerID: p.id, PublisherID: o.publisher, ListingType: o.listing,
		Storefront: o.storefront, Category: o.category})); err != nil {
		return err
	}
	o.emitted = true
	if o.delist && !again {
		if d := t + g.uniform(30*day, 1000*day); d < g.end-day {
			g.schedule(item{kind: kDelist, t: d, p: int32(p.idx), x: int32(k)})
		}
	}
	return nil
}

func (g *generator) delist(p *partner, k int, t int64) error {
	d := domain.OfferDelisted{OfferID: p.offers[k].id}
	if g.chance(0.7) {
		d.Reason = pick(g, delistReasons)
	}
	if err := g.must(p, g.input(domain.TypeOfferDelisted, srcCatalog, t, d)); err != nil {
		return err
	}
	if g.chance(republishShare) {
		if r := t + g.uniform(7*day, 365*day); r < g.end-day {
			g.schedule(item{kind: kPublish, t: r, p: int32(p.idx), x: int32(k), a: 1})
		}
	}
	return nil
}

func (g *generator) enrol(p *partner, t int64) error {
	if err := g.must(p, g.input(domain.TypePartnerEnrolled, srcRewards, t, domain.PartnerEnrolled{
		PartnerID: p.id, Name: p.name, AccountEmail: "partners@" + p.domain})); err != nil {
		return err
	}
	if p.contactAt != 0 {
		g.schedule(item{kind: kContact, t: p.contactAt, p: int32(p.idx)})
	}
	if s := t + g.uniform(day, 20*day); s < g.end-day {
		g.schedule(item{kind: kSession, t: s, p: int32(p.idx)})
	}
	return nil
}

func (g *generator) contact(p *partner, t int64, replacement bool) error {
	r := pick(g, regions)
	person := pick(g, people)
	d := domain.MarketingContactAssigned{PartnerID: p.id, Phone: fmt.Sprintf(r.phone, g.rng.IntN(10000)), Language: r.lang}
	switch g.weighted(60, 25, 15) {
	case 0:
		d.Email = person + "@" + p.domain
	case 1:
		d.Email = "marketing@" + p.domain
		d.UserID = "aad-" + strconv.FormatUint(g.rng.Uint64()>>16, 36)
	default:
		d.UserID = "aad-" + strconv.FormatUint(g.rng.Uint64()>>16, 36)
	}
	if err := g.must(p, g.input(domain.TypeMarketingContactAssigned, srcRewards, t, d)); err != nil {
		return err
	}
	if !replacement && p.recontact != 0 {
		g.schedule(item{kind: kContact, t: p.recontact, p: int32(p.idx), a: 1})
	}
	return nil
}

// nextSale schedules the partner's next planned sale.
func (g *generator) nextSale(p *partner) {
	if p.next < len(p.sales) {
		g.schedule(item{kind: kSale, t: p.sales[p.next], p: int32(p.idx)})
		p.next++
		return
	}
	p.sales = nil
}

func saleID(n int64) string {
	var b [24]byte
	s := strconv.AppendInt(b[:0], n, 10)
	out := append([]byte("S-"), "000000000"[min(9, len(s)):]...)
	return string(append(out, s...))
}

// sale bills the partner's next planned sale, unless the controller thins it.
func (g *generator) sale(p *partner, t int64) error {
	g.ctl.remaining--
	g.nextSale(p)
	if g.rng.Float64() >= g.ctl.keep {
		return nil
	}
	var cands [4]*offer
	n := 0
	for _, o := range p.offers {
		if o.listing == domain.ListingTransact && o.emitted && o.pubAt <= t {
			cands[n] = o
			n++
		}
	}
	o := cands[0]
	if k := g.rng.IntN(n + 1); k > 0 && k < n { // the first transact offer sells twice as much
		o = cands[k]
	}
	d := domain.SaleBilled{SaleID: saleID(g.saleNo + 1), OfferID: o.id, CustomerID: g.customer(p), AmountUSDCents: g.amount(p)}
	if o.category == domain.CategoryM365 && t < g.seatsUntil {
		d.Seats = int64(min(5000, math.Ceil(math.Pow(1-g.rng.Float64(), -1/1.1))))
	}
	if err := g.must(p, g.input(domain.TypeSaleBilled, srcBilling, t, d)); err != nil {
		return err
	}
	g.saleNo++
	g.ctl.sales++
	pi := int32(p.idx)
	if g.chance(fraudRate) {
		conf := uint8(0)
		if !g.chance(suspectedShare) {
			conf = 1
		}
		if f := t + g.expDelay(20*day, hour); f < g.end {
			g.schedule(item{kind: kFlag, t: f, at: g.arrival(f, f), p: pi, n: g.saleNo, a: conf})
		}
	}
	if g.chance(cancelRate) {
		reason := g.weighted(35, 40, 25)
		var c int64
		switch reason {
		case 0:
			c = t + g.uniform(10*minute, 2*day)
		case 1:
			c = t + g.uniform(hour, 14*day)
		default:
			c = t + g.uniform(day, 120*day)
		}
		if c < g.end {
			g.schedule(item{kind: kCancel, t: c, at: g.arrival(c, c), p: pi, n: g.saleNo, a: uint8(reason)})
		}
	}
	return nil
}

// arrival is when a correction dated t reaches the ledger, not before after:
// mostly at once, sometimes months late.
func (g *generator) arrival(t, after int64) int64 {
	at := max(t, after)
	if g.chance(lateShare) {
		at += g.uniform(20*day, 300*day)
	}
	return at
}

func (g *generator) customer(p *partner) string {
	size := min(300, max(3, p.nSales/4))
	k := int(float64(size) * math.Pow(g.rng.Float64(), 2))
	for len(p.custs) <= k {
		p.custs = append(p.custs, "C-"+p.num+"-"+strconv.Itoa(len(p.custs)+1))
	}
	return p.custs[k]
}

// amount is a sale's amount in cents: log-normal around $600, scaled by the
// partner, with a Pareto tail of big deals.
func (g *generator) amount(p *partner) int64 {
	x := medianSale * math.Exp(saleSigma*g.rng.NormFloat64()) * p.scale
	if g.chance(bigDealRate) {
		x = bigDealMin / math.Pow(1-g.rng.Float64(), 1/bigDealAlpha)
	}
	return max(100, int64(min(x, bigDealMax)))
}

// flag records a fraud flag and plans what becomes of it: a suspicion is
// cleared or confirmed (left open only when recent), a confirmation is
// sometimes cleared later.
func (g *generator) flag(p *partner, it item) error {
	conf := domain.ConfidenceSuspected
	if it.a == 1 {
		conf = domain.ConfidenceConfirmed
	}
	if err := g.must(p, g.input(domain.TypeSaleFlaggedFraud, srcFraud, it.t, domain.SaleFlaggedFraud{SaleID: saleID(it.n), Confidence: conf})); err != nil {
		return err
	}
	g.ctl.corrections++
	next := item{p: it.p, n: it.n}
	switch {
	case it.a == 0 && it.t > g.end-60*day && g.chance(0.5):
		return nil
	case it.a == 0 && g.chance(0.6):
		next.kind, next.t = kClear, it.t+g.uniform(2*day, 45*day)
	case it.a == 0:
		next.kind, next.t, next.a = kFlag, it.t+g.uniform(3*day, 60*day), 1
	case g.chance(0.1):
		next.kind, next.t = kClear, it.t+g.uniform(10*day, 120*day)
	default:
		return nil
	}
	if next.t < g.end {
		next.at = g.arrival(next.t, it.at)
		g.schedule(next)
	}
	return nil
}

func (g *generator) clear(p *partner, it item) error {
	if err := g.must(p, g.input(domain.TypeSaleFraudCleared, srcFraud, it.t, domain.SaleFraudCleared{SaleID: saleID(it.n)})); err != nil {
		return err
	}
	g.ctl.corrections++
	return nil
}

// scheduleMetric plans the report of a period, early in the next month.
func (g *generator) scheduleMetric(p *partner, m uint8, per int64) {
	if t := monthStart(per+1) + g.uniform(day, 8*day); t < g.end {
		g.schedule(item{kind: kMetric, t: t, p: int32(p.idx), a: m, n: per})
	}
}

func (g *generator) metric(p *partner, it item) error {
	which, replacement := it.a&1, it.a&2 != 0
	plan, name := p.mau, domain.MetricTeamsMAU
	if which == 1 {
		plan, name = p.biz, domain.MetricBizAppsValue
	}
	v := plan.base * math.Exp(plan.growth*float64(it.n-plan.from)) * (0.85 + 0.3*g.rng.Float64())
	if replacement {
		v *= 0.8 + 0.4*g.rng.Float64()
	}
	value := int64(min(v, 1e12))
	if err := g.must(p, g.input(domain.TypeMetricReported, srcMetrics, it.t, domain.MetricReported{
		PartnerID: p.id, Metric: name, Period: period(it.n), Value: value})); err != nil {
		return err
	}
	if replacement {
		return nil
	}
	if g.chance(replaceRate) {
		if t := it.t + g.uniform(3*day, 40*day); t < g.end {
			g.schedule(item{kind: kMetric, t: t, p: it.p, a: which | 2, n: it.n})
		}
	}
	g.scheduleMetric(p, which, it.n+1)
	return nil
}

// session is a partner activating benefits: each benefit it is entitled to
// and has not activated for the current period, with some probability, a few
// minutes apart. The rewards team follows up on some of them.
func (g *generator) session(p *partner, t int64) error {
	pi := int32(p.idx)
	if s := t + g.expDelay(sessionGap, 7*day); s < g.end-day {
		g.schedule(item{kind: kSession, t: s, p: pi})
	}
	f := g.facts(p)
	at := tm(t)
	grants := f.View(g.pol).Grants(at)
	g.ins = g.ins[:0]
	type pair struct{ b, o string }
	var pairs [16]pair
	np := 0
	when := t
	for _, gr := range grants {
		o := ""
		if gr.Line == domain.LineOfferGrant {
			o = gr.OfferID
		}
		dup := false
		for _, q := range pairs[:np] {
			dup = dup || q == (pair{gr.BenefitID, o})
		}
		if dup || np == len(pairs) || activated(f, gr.BenefitID, o, at) {
			continue
		}
		pairs[np] = pair{gr.BenefitID, o}
		np++
		if !g.chance(activateProb) {
			continue
		}
		when += g.uniform(30, 600)
		g.ins = append(g.ins, g.input(domain.TypeBenefitActivated, srcPortal, when,
			domain.BenefitActivated{PartnerID: p.id, BenefitID: gr.BenefitID, OfferID: o}))
	}
	if len(g.ins) == 0 {
		return nil
	}
	g.ok = append(g.ok[:0], make([]bool, len(g.ins))...)
	if err := g.submit(p, g.ins, g.ok); err != nil {
		return err
	}
	var mask uint64
	for i, in := range g.ins {
		if g.ok[i] && g.chance(contactEach) {
			mask |= 1 << g.benefitIndex(in.Data.(domain.BenefitActivated).BenefitID)
		}
	}
	if mask != 0 && g.chance(contactRunRate) {
		d := g.uniform(day, 6*day)
		if g.chance(0.25) {
			d = g.uniform(8*day, 40*day) // overdue
		}
		if c := when + d; c < g.end-day {
			g.schedule(item{kind: kContactRun, t: c, p: pi, n: int64(mask)})
		}
	}
	return nil
}

// activated reports an activation of the benefit (and offer) whose period
// contains at: activating again would be already_activated.
func activated(f *domain.Partner, benefit, offer string, at time.Time) bool {
	for _, a := range f.Activations {
		if a.BenefitID == benefit && a.OfferID == offer && a.Period.Contains(at) {
			return true
		}
	}
	return false
}

func (g *generator) benefitIndex(id string) int {
	for i, b := range g.benefit {
		if b == id {
			return i
		}
	}
	panic("gen: unknown benefit " + id)
}

// contactRun reports the rewards team's contact for each benefit of the mask:
// accepted when an active, uncontacted activation of it remains.
func (g *generator) contactRun(p *partner, t int64, mask uint64) error {
	g.ins = g.ins[:0]
	for i, b := range g.benefit {
		if mask&(1<<i) != 0 {
			g.ins = append(g.ins, g.input(domain.TypeRewardsTeamContacted, srcRewards, t+int64(len(g.ins))*g.uniform(60, 900),
				domain.RewardsTeamContacted{PartnerID: p.id, BenefitID: b}))
		}
	}
	g.ok = append(g.ok[:0], make([]bool, len(g.ins))...)
	return g.submit(p, g.ins, g.ok)
}

func (g *generator) opt(p *partner, it item) error {
	d := domain.EngagementOptedOut{PartnerID: p.id}
	if it.x >= 0 {
		d.BenefitID = g.benefit[it.x]
	}
	if it.n >= 0 {
		d.OfferID = p.offers[it.n].id
	}
	var in domain.Input
	if it.kind == kOptOut {
		in = g.input(domain.TypeEngagementOptedOut, srcPortal, it.t, d)
	} else {
		in = g.input(domain.TypeEngagementOptedIn, srcPortal, it.t, domain.EngagementOptedIn(d))
	}
	g.ins = append(g.ins[:0], in)
	g.ok = append(g.ok[:0], false)
	if err := g.submit(p, g.ins, g.ok); err != nil || !g.ok[0] {
		return err
	}
	if it.kind == kOptOut && g.chance(0.5) {
		if t := it.t + g.uniform(30*day, 400*day); t < g.end {
			it.kind, it.t, it.at = kOptIn, t, 0
			g.schedule(it)
		}
	}
	return nil
}

// sanction sanctions the partner: its planned sanction (lifted or not as
// planned), or again after a reinstatement (a=1).
func (g *generator) sanction(p *partner, t int64, again bool) error {
	d := domain.PartnerSanctioned{PartnerID: p.id, Ground: pick(g, grounds)}
	if g.chance(0.5) {
		d.Note = pick(g, notes)
	}
	if err := g.must(p, g.input(domain.TypePartnerSanctioned, srcCompliance, t, d)); err != nil {
		return err
	}
	if (!again && p.reinstate) || (again && g.chance(reinstateShare)) {
		if r := t + g.uniform(14*day, 270*day); r < g.end-day {
			g.schedule(item{kind: kReinstate, t: r, p: int32(p.idx)})
		}
	}
	return nil
}
