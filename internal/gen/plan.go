package gen

import (
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/benefits-ledger/ledger/domain"
)

const (
	minute = int64(60)
	hour   = 60 * minute
	day    = 24 * hour
	year   = 365 * day
)

// The distribution of the workload. Rates are per sale, per partner or per
// offer; durations in seconds.
const (
	sellerShare    = 0.80 // partners with a transact offer (the others never bill)
	zipfExponent   = 1.05 // sales rate of the seller of rank r ∝ 1/r^s
	topShare       = 40   // one seller in topShare joins in the program's first 90 days
	churnShare     = 0.20 // sellers whose sales stop for good
	gapShare       = 0.20 // sellers with a pause in their sales
	medianSale     = 60_000
	saleSigma      = 1.3
	bigDealRate    = 0.004 // Pareto tail of deals from $50,000
	bigDealMin     = 5_000_000
	bigDealAlpha   = 1.2
	bigDealMax     = 600_000_000
	fraudRate      = 0.01
	suspectedShare = 0.55
	cancelRate     = 0.01
	lateShare      = 0.20 // corrections that reach the ledger months late
	enrolShare     = 0.85
	lateEnrolShare = 0.20
	contactShare   = 0.90
	recontactShare = 0.15
	mauShare       = 0.12
	bizShare       = 0.08
	replaceRate    = 0.04 // metric reports replaced later
	delistRate     = 0.05 // per offer
	republishShare = 0.50
	sanctionShare  = 0.02 // of partners (at least one)
	reinstateShare = 0.70
	optOutShare    = 0.04 // of enrolled partners (at least one)
	activateProb   = 0.45 // each entitled, not yet activated benefit, per session
	sessionGap     = 100 * day
	contactRunRate = 0.80 // sessions with activations the rewards team follows up
	contactEach    = 0.90
)

// partner is one simulated partner.
type partner struct {
	idx    int
	num    string // zero-padded number shared by its ids
	id     string
	name   string
	domain string
	pub    []string
	offers []*offer

	join     int64
	seller   bool
	rank     int
	weight   float64
	saleFrom int64
	saleTo   int64
	gapFrom  int64
	gapTo    int64
	gamma    float64
	nSales   int
	sales    []int64 // planned sale times, generated when the partner joins
	next     int
	scale    float64
	billAt   int64 // second of the day of the partner's billing run
	custs    []string

	enrolAt    int64 // 0: never enrols
	contactAt  int64 // 0: no marketing contact
	recontact  int64 // 0: the contact is never replaced
	sanctionAt int64
	reinstate  bool // the planned sanction is lifted
	optAt      int64
	mau, biz   metric

	facts *domain.Partner // the default judge's state
}

type offer struct {
	id         string
	listing    string
	storefront string
	category   string
	publisher  string
	pubAt      int64 // first publication
	delist     bool  // planned to be delisted once
	emitted    bool
}

// metric is a partner's monthly report plan: value ≈ base·e^(growth·months).
type metric struct {
	from   int64 // first period reported (months since year 0), 0: never
	base   float64
	growth float64
}

var (
	nameFirst = []string{"Contoso", "Fabrikam", "Northwind", "Tailspin", "Woodgrove", "Adatum", "Litware", "Proseware",
		"Lucerne", "Alpine Ski", "Trey", "Coho", "Wingtip", "Relecloud", "Humongous", "Margie's", "Fourth Coffee",
		"Wide World", "Blue Yonder", "Southridge", "Lamna", "Munson's", "Nod", "VanArsdel", "Bellows", "Consolidated"}
	nameSecond = []string{"Software", "Analytics", "Cloud", "Labs", "Systems", "Solutions", "Data", "AI", "Security",
		"Apps", "Consulting", "Digital"}
	nameSuffix = []string{"AB", "Sp. z o.o.", "Inc.", "Ltd", "GmbH", "SAS", "K.K.", "LLC"}
	people     = []string{"anna", "erik", "maria", "jan", "sofia", "piotr", "lena", "oskar", "emma", "lukas",
		"chloe", "kenji", "agnieszka", "lars", "olivia", "mateusz"}
	delistReasons = []string{"retired", "replaced by a new version", "publisher request", "policy review", "merged into another offer"}
	notes         = []string{"case opened by partner compliance", "pending investigation", "reported by a customer", "automated screening"}
)

// region is a contact's country: a phone format and a language tag.
type region struct {
	phone string // %04d is a random number
	lang  string
}

var regions = []region{
	{"+46 8 555 %04d", "sv-SE"}, {"+48 22 555 %04d", "pl-PL"}, {"+1 (425) 555-%04d", "en-US"},
	{"+1 (212) 555-%04d", "en-US"}, {"+44 20 7946 %04d", "en-GB"}, {"+49 30 5550 %04d", "de-DE"},
	{"+33 1 5555 %04d", "fr-FR"}, {"+81 3 5555 %04d", "ja-JP"}, {"+55 11 5555-%04d", "pt-BR"},
}

// uniform returns a uniform integer in [lo, hi).
func (g *generator) uniform(lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	return lo + g.rng.Int64N(hi-lo)
}

func (g *generator) chance(p float64) bool { return g.rng.Float64() < p }

func pick[T any](g *generator, xs []T) T { return xs[g.rng.IntN(len(xs))] }

// weighted picks an index with the given weights.
func (g *generator) weighted(ws ...float64) int {
	var sum float64
	for _, w := range ws {
		sum += w
	}
	x := g.rng.Float64() * sum
	for i, w := range ws {
		if x < w {
			return i
		}
		x -= w
	}
	return len(ws) - 1
}

// expDelay is an exponential delay with the given mean, plus least.
func (g *generator) expDelay(mean, least int64) int64 {
	return least + int64(g.rng.ExpFloat64()*float64(mean))
}

// plan decides every partner's life at the start, then allocates the sales.
func (g *generator) plan() {
	n := g.cfg.Partners
	width := max(5, len(strconv.Itoa(n)))
	g.ps = make([]*partner, n)
	var sellers []*partner
	for i := range g.ps {
		p := &partner{idx: i, num: fmt.Sprintf("%0*d", width, i+1)}
		p.id = "P-" + p.num
		p.seller = g.chance(sellerShare) || (i == n-1 && len(sellers) == 0)
		if p.seller {
			sellers = append(sellers, p)
		}
		g.ps[i] = p
	}
	// Zipf ranks over sellers, at random.
	for i, j := range g.rng.Perm(len(sellers)) {
		sellers[i].rank = j + 1
	}
	top := max(1, len(sellers)/topShare)
	span := g.end - g.start
	for _, p := range g.ps {
		g.planPartner(p, top, span)
	}
	g.planRare()
	g.allocateSales(sellers)
	for _, p := range g.ps {
		g.schedule(item{kind: kJoin, t: p.join, p: int32(p.idx)})
	}
	g.ctl.init(g)
}

func (g *generator) planPartner(p *partner, top int, span int64) {
	first, second := pick(g, nameFirst), pick(g, nameSecond)
	p.name = first + " " + second + " " + pick(g, nameSuffix)
	p.domain = slug(first) + "-" + slug(second) + "-" + p.num + ".example"
	p.pub = []string{"pub-" + p.num}
	if g.chance(0.15) {
		p.pub = append(p.pub, "pub-"+p.num+"-b")
	}
	switch {
	case p.seller && p.rank <= top:
		p.join = g.start + g.uniform(0, 90*day)
	case p.seller:
		p.join = g.start + int64(math.Pow(g.rng.Float64(), 1.5)*float64(span-200*day))
	default:
		p.join = g.start + g.uniform(0, span-120*day)
	}
	p.join = p.join - p.join%day + g.uniform(7*hour, 19*hour) // business hours
	p.join = max(p.join, g.start)

	// Offers: the first at joining, the others within two years.
	k := 1 + g.weighted(40, 30, 20, 10)
	times := []int64{p.join}
	for range k - 1 {
		if t := p.join + g.uniform(7*day, 720*day); t < g.end-7*day {
			times = append(times, t)
		}
	}
	slices.Sort(times)
	for i, t := range times {
		o := &offer{id: "O-" + p.num + "-" + strconv.Itoa(i+1), pubAt: t, publisher: p.pub[0]}
		if i > 0 && len(p.pub) > 1 && g.chance(0.5) {
			o.publisher = p.pub[1]
		}
		switch {
		case i == 0 && p.seller:
			o.listing = domain.ListingTransact
		case p.seller:
			o.listing = []string{domain.ListingTransact, domain.ListingList, domain.ListingTrial, domain.ListingConsulting}[g.weighted(30, 30, 25, 15)]
		default:
			o.listing = []string{domain.ListingList, domain.ListingTrial, domain.ListingConsulting}[g.weighted(45, 35, 20)]
		}
		o.category = []string{domain.CategoryM365, "business-app", "azure-app", domain.CategoryOther}[g.weighted(25, 25, 30, 20)]
		switch {
		case o.category == "azure-app":
			o.storefront = []string{"azure-marketplace", "appsource"}[g.weighted(85, 15)]
		case o.category == domain.CategoryOther:
			o.storefront = []string{"azure-marketplace", "appsource"}[g.weighted(50, 50)]
		default:
			o.storefront = []string{"appsource", "azure-marketplace"}[g.weighted(85, 15)]
		}
		o.delist = g.chance(delistRate)
		p.offers = append(p.offers, o)
	}

	// Enrolment, mostly soon after joining, sometimes much later; the
	// marketing contact follows.
	if g.chance(enrolShare) {
		t := p.join + g.expDelay(20*day, hour)
		if g.chance(lateEnrolShare) {
			t = p.join + g.uniform(90*day, 720*day)
		}
		if t < g.end-day {
			p.enrolAt = t
			if g.chance(contactShare) {
				if c := t + g.expDelay(9*day, 10*minute); c < g.end-day {
					p.contactAt = c
					if g.chance(recontactShare) {
						if r := c + g.uniform(60*day, 900*day); r < g.end-day {
							p.recontact = r
						}
					}
				}
			}
		}
	}

	// Metrics: some partners report Teams MAU or Business Apps value monthly.
	firstPeriod := func() int64 {
		joined := monthOf(p.join) + 1
		from := monthOf(tm(g.start).AddDate(1, 11, 0).Unix()) + g.rng.Int64N(42)
		return max(joined, from)
	}
	if g.chance(mauShare) {
		p.mau = metric{from: firstPeriod(), base: 1200 * math.Exp(1.2*g.rng.NormFloat64()), growth: 0.02 + 0.03*g.rng.NormFloat64()}
	}
	if g.chance(bizShare) {
		p.biz = metric{from: firstPeriod(), base: 300_000 * math.Exp(1.2*g.rng.NormFloat64()), growth: 0.01 + 0.03*g.rng.NormFloat64()}
	}

	// Sales.
	if !p.seller {
		return
	}
	p.scale = math.Exp(0.7 * g.rng.NormFloat64())
	p.billAt = []int64{2, 9, 17}[g.rng.IntN(3)]*hour + g.rng.Int64N(60)*minute
	p.saleFrom = p.join + g.uniform(day, 30*day)
	p.saleTo = g.end
	if p.rank > top && g.chance(churnShare) {
		p.saleTo = p.saleFrom + int64((0.25+0.65*g.rng.Float64())*float64(g.end-p.saleFrom))
	}
	if g.chance(gapShare) {
		p.gapFrom = p.saleFrom + int64(g.rng.Float64()*float64(p.saleTo-p.saleFrom))
		p.gapTo = p.gapFrom + g.uniform(90*day, 500*day)
	}
	p.gamma = math.Exp((2*g.rng.Float64() - 1) * math.Ln2)
	p.weight = math.Pow(float64(p.rank), -zipfExponent) * float64(p.saleTo-p.saleFrom) / float64(span)
}

// planRare plans the rare happenings so that even a small log has some:
// sanctions, opt-outs and delistings.
func (g *generator) planRare() {
	n := len(g.ps)
	for k, i := range g.rng.Perm(n)[:min(n, max(2, int(math.Round(float64(n)*sanctionShare))))] {
		p := g.ps[i]
		if t := p.join + g.uniform(30*day, max(31*day, g.end-300*day-p.join)); t < g.end-day {
			p.sanctionAt = t
			p.reinstate = k == 0 || g.chance(reinstateShare)
		}
	}
	var enrolled []*partner
	for _, p := range g.ps {
		if p.enrolAt != 0 {
			enrolled = append(enrolled, p)
		}
	}
	if len(enrolled) > 0 {
		for _, i := range g.rng.Perm(len(enrolled))[:max(1, int(math.Round(float64(len(enrolled))*optOutShare)))] {
			p := enrolled[i]
			if t := p.enrolAt + g.uniform(30*day, max(31*day, g.end-p.enrolAt)); t < g.end-day {
				p.optAt = t
			}
		}
	}
	delisted := false
	for _, p := range g.ps {
		for _, o := range p.offers {
			delisted = delisted || o.delist
		}
	}
	if !delisted {
		pick(g, g.ps).offers[0].delist = true
	}
}

// allocateSales shares the planned number of sales among the sellers by
// weight (Zipf rank × selling window), largest remainders first.
func (g *generator) allocateSales(sellers []*partner) {
	total := g.ctl.plannedSales(g)
	var sum float64
	for _, p := range sellers {
		sum += p.weight
	}
	type rem struct {
		p    *partner
		frac float64
	}
	var rems []rem
	left := total
	for _, p := range sellers {
		x := float64(total) * p.weight / sum
		p.nSales = int(x)
		left -= p.nSales
		rems = append(rems, rem{p, x - float64(p.nSales)})
	}
	slices.SortStableFunc(rems, func(a, b rem) int {
		switch {
		case a.frac > b.frac:
			return -1
		case a.frac < b.frac:
			return 1
		}
		return 0
	})
	for i := 0; i < left && i < len(rems); i++ {
		rems[i].p.nSales++
	}
}

// saleTimes draws the partner's sale times: sorted, shaped by gamma (growing
// or declining business), with its pause left out, each at the partner's
// daily billing run.
func (g *generator) saleTimes(p *partner) []int64 {
	xs := make([]float64, p.nSales)
	for i := range xs {
		xs[i] = g.rng.Float64()
	}
	slices.Sort(xs)
	out := make([]int64, 0, len(xs))
	width := float64(p.saleTo - p.saleFrom)
	for _, x := range xs {
		t := p.saleFrom + int64(math.Pow(x, p.gamma)*width)
		if t >= p.gapFrom && t < p.gapTo {
			continue
		}
		t = t - t%day + p.billAt
		if t < p.saleFrom {
			t += day
		}
		if t >= g.end {
			break
		}
		out = append(out, t)
	}
	return out
}

// monthOf is the month index (year·12 + month − 1) of a Unix time.
func monthOf(t int64) int64 {
	u := tm(t)
	return int64(u.Year())*12 + int64(u.Month()) - 1
}

// monthStart is the first instant of month index m.
func monthStart(m int64) int64 {
	return tm(0).AddDate(int(m/12)-1970, int(m%12), 0).Unix()
}

func period(m int64) string { return fmt.Sprintf("%04d-%02d", m/12, m%12+1) }

func slug(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			b = append(b, c)
		case c == ' ':
			b = append(b, '-')
		}
	}
	return string(b)
}
