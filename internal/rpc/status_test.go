package rpc

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"strconv"
	"testing"

	"github.com/benefits-ledger/ledger/domain"
)

// declaredCodes reads every Code constant of domain/errors.go, the codes'
// one home, as name → value.
func declaredCodes(t *testing.T) map[string]domain.Code {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../../domain/errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]domain.Code{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
				continue
			}
			for i, name := range vs.Names {
				lit := vs.Values[i].(*ast.BasicLit)
				v, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				codes[name.Name] = domain.Code(v)
			}
		}
	}
	return codes
}

// TestEveryCodeHasAStatus: every code the ledger declares is either in the
// status table or one of the caller's mistakes that answer 400, so a new
// code cannot silently fall through to 400; and no two names share a code.
func TestEveryCodeHasAStatus(t *testing.T) {
	callerMistakes := map[domain.Code]bool{
		domain.CodeInvalidJSON: true, domain.CodeInvalidEnvelope: true, domain.CodeUnknownType: true,
		domain.CodeInvalidField: true, domain.CodeInvalidRequest: true, domain.CodeTooManyLines: true,
		domain.CodeLineTooLong: true, domain.CodeInvalidHeader: true, domain.CodeInvalidPolicy: true,
		domain.CodeEmptyMessage: true, domain.CodeInputError: true,
	}
	codes := declaredCodes(t)
	if len(codes) < 40 {
		t.Fatalf("found %d codes in domain/errors.go: is it still their home?", len(codes))
	}
	seen := map[domain.Code]string{}
	for name, c := range codes {
		if other, dup := seen[c]; dup {
			t.Errorf("%s and %s are both %q", name, other, c)
		}
		seen[c] = name
		if got := HTTPStatus(c); got == http.StatusBadRequest && !callerMistakes[c] {
			t.Errorf("%s (%q) falls through to 400: give it a status in HTTPStatus or list it as a caller's mistake", name, c)
		}
	}
}
