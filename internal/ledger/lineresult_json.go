package ledger

import (
	"strconv"

	"github.com/benefits-ledger/ledger/domain"
)

// AppendJSON appends r as json.Marshal encodes it (the `submit --json`
// line, without its newline). The submit endpoint answers a result per
// line, a thousand a request: through encoding/json's reflection they were
// about a microsecond and a growing buffer each (TestLineResultJSON holds
// the two encodings together).
func (r LineResult) AppendJSON(b []byte) []byte {
	b = append(b, `{"line":`...)
	b = strconv.AppendInt(b, int64(r.Line), 10)
	if r.ID != "" {
		b = append(b, `,"id":`...)
		b = domain.AppendJSONString(b, r.ID)
	}
	b = append(b, `,"ok":`...)
	b = strconv.AppendBool(b, r.OK)
	if r.Seq != 0 {
		b = append(b, `,"seq":`...)
		b = strconv.AppendUint(b, r.Seq, 10)
	}
	b = append(b, `,"duplicate":`...)
	b = strconv.AppendBool(b, r.Duplicate)
	if r.Code != "" {
		b = append(b, `,"code":`...)
		b = domain.AppendJSONString(b, string(r.Code))
	}
	if r.Error != "" {
		b = append(b, `,"error":`...)
		b = domain.AppendJSONString(b, r.Error)
	}
	return append(b, '}')
}
