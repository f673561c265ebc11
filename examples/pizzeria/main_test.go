package main

import (
	"testing"

	"github.com/redkit-go/redkit/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }
