package cache_test

import (
	"testing"

	"github.com/redkit-go/redkit/internal/leaktest"
)

func TestMain(m *testing.M) {
	if helperMain() {
		return
	}
	leaktest.VerifyTestMain(m)
}
