package testenv

import "testing"

func TestRequirePresentDoesNothing(t *testing.T) {
	Require(t, "nothing", true)
}

func TestInCI(t *testing.T) {
	t.Setenv("CI", "true")
	if !InCI() {
		t.Fatal("CI=true: InCI() = false")
	}
	t.Setenv("CI", "")
	if InCI() {
		t.Fatal("CI empty: InCI() = true")
	}
}
