package gen

import "math"

// controller keeps the number of lines near Config.Events. Sales are planned
// with some excess; as the simulation runs, each sale is kept with
// probability keep, set every simulated week so that the projected total
// meets the target: the lines so far, the sales still planned (with their
// corrections), and the other events to come, projected from their rate so
// far per partner-second of membership (blended with a prior).
type controller struct {
	target      float64
	keep        float64
	remaining   int   // planned sales not reached yet
	sales       int64 // sales emitted
	corrections int64 // fraud flags, clearances and cancellations emitted
	nextCheck   int64
	exposure    float64 // partner-seconds of membership over the whole span
	prior       float64 // other events per partner-second, before any is seen
}

const (
	priorPerPartnerYear = 5.5
	priorCorrections    = 0.025 // corrections per sale
	planExcess          = 1.6
	priorWeight         = 0.1 // the prior counts as this share of the span
	checkEvery          = 7 * day
)

// plannedSales is the number of sales to plan (called once partners have
// joining times).
func (c *controller) plannedSales(g *generator) int {
	c.target = float64(g.cfg.Events)
	for _, p := range g.ps {
		c.exposure += float64(g.end - p.join)
	}
	c.prior = priorPerPartnerYear / float64(year)
	need := max(c.target-c.prior*c.exposure, 0.2*c.target) / (1 + priorCorrections)
	n := int(math.Ceil(planExcess * need))
	c.remaining = n
	return n
}

func (c *controller) init(g *generator) {
	c.keep = 1
	c.update(g, g.start)
}

// tick updates keep once a simulated week has passed.
func (c *controller) tick(g *generator, at int64) {
	if at >= c.nextCheck {
		c.update(g, at)
	}
}

func (c *controller) update(g *generator, at int64) {
	c.nextCheck = at + checkEvery
	var seen float64
	for _, p := range g.ps {
		seen += float64(min(max(at-p.join, 0), g.end-p.join))
	}
	lines := float64(g.lines)
	other := lines - float64(c.sales+c.corrections)
	rate := (other + priorWeight*c.exposure*c.prior) / (seen + priorWeight*c.exposure)
	otherLeft := rate * max(c.exposure-seen, 0)
	corr := (float64(c.corrections) + priorCorrections*1000) / (float64(c.sales) + 1000)
	if c.remaining <= 0 {
		return
	}
	need := c.target - lines - otherLeft - corr*float64(c.sales) + float64(c.corrections)
	c.keep = min(1, max(0, need/(float64(c.remaining)*(1+corr))))
}
