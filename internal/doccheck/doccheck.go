// Package doccheck finds exported names without a doc comment, for the
// tests that keep a package documented (domain, eventstore).
package doccheck

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Undocumented returns the exported names of the package in dir (its
// non-test files) that have no doc comment, as "file:line: name", sorted,
// and how many exported names there are. Counted: functions, methods on
// exported types, types, and constants and variables (documented by their
// own comment, a line comment or their group's doc comment). Errors are
// the parser's.
func Undocumented(dir string) (missing []string, total int, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, fmt.Errorf("doccheck: %w", err)
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments)
		if err != nil {
			return nil, 0, fmt.Errorf("doccheck: %w", err)
		}
		check := func(pos token.Pos, what string, documented bool) {
			total++
			if !documented {
				missing = append(missing, fmt.Sprintf("%s:%d: %s", filepath.Base(name), fset.Position(pos).Line, what))
			}
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				what := d.Name.Name
				if d.Recv != nil {
					recv, ok := receiver(d.Recv.List[0].Type)
					if !ok {
						continue
					}
					what = recv + "." + what
				}
				check(d.Pos(), what, d.Doc != nil)
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							check(s.Pos(), "type "+s.Name.Name, s.Doc != nil || d.Doc != nil)
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								check(n.Pos(), d.Tok.String()+" "+n.Name, s.Doc != nil || s.Comment != nil || d.Doc != nil)
							}
						}
					}
				}
			}
		}
	}
	sort.Strings(missing)
	return missing, total, nil
}

// receiver names a method's receiver type when it is exported.
func receiver(t ast.Expr) (string, bool) {
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	switch x := t.(type) {
	case *ast.IndexExpr:
		t = x.X
	case *ast.IndexListExpr:
		t = x.X
	}
	id, ok := t.(*ast.Ident)
	if !ok || !id.IsExported() {
		return "", false
	}
	return id.Name, true
}

// Check fails t, naming each one, when an exported name of the package in
// dir has no doc comment: the whole of a package's documentation test.
func Check(t testing.TB, dir string) {
	t.Helper()
	missing, total, err := Undocumented(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Errorf("%d of %d exported names have no doc comment:\n%s", len(missing), total, strings.Join(missing, "\n"))
	}
}
