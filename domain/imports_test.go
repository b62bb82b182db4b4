package domain_test

import (
	"go/build"
	"strings"
	"testing"
)

// The domain imports the standard library only.
func TestDomainImportsOnlyStandardLibrary(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range append(pkg.Imports, pkg.TestImports...) {
		if first := strings.Split(imp, "/")[0]; strings.Contains(first, ".") {
			t.Errorf("domain imports %q: only the standard library is allowed", imp)
		}
	}
}
