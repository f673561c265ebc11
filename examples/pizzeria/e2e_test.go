//go:build e2e

package main

// The browser test (make test-e2e): headless Chromium, driven with
// chromedp, logs in, adds to the cart, places an order and sees it reach
// "ready" on the kitchen board live, then saves a screenshot of the page
// in the test's artifact directory (go test -artifacts keeps it; make
// test-e2e copies it to docs/screenshot.png).

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/redkit-go/redkit/redistest"
)

// chromium finds the browser: $CHROMIUM, or chromium on the PATH.
func chromium(t *testing.T) string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium: install it with `apt-get install -y chromium chromium-driver` (make test-e2e does) or set $CHROMIUM")
	return ""
}

func TestE2E(t *testing.T) {
	fastKitchen(t, 0)
	kitchenBakeTime = 1500 * time.Millisecond // long enough to see "baking"
	srv := redistest.Start(t, nil)
	shop := testShop(t, srv.URL(), "pizzeria-1")

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // CI runs as root
		chromedp.WindowSize(1440, 1000),
	)
	actx, cancel := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	err := chromedp.Do(ctx,
		chromedp.Navigate(shop.URL),
		chromedp.WaitVisible(`#login-name`),
		chromedp.WaitVisible(`.add-btn[data-pizza="margherita"]`),
		chromedp.SendKeys(`#login-name`, "ada"),
		chromedp.Click(`#login-btn`),
		chromedp.WaitVisible(`#logged-in`),
		chromedp.WaitEnabled(`.add-btn[data-pizza="margherita"]`),
		chromedp.Click(`.add-btn[data-pizza="margherita"]`),
		chromedp.WaitVisible(`#cart [data-inc="margherita"]`),
		chromedp.Click(`.add-btn[data-pizza="diavola"]`),
		chromedp.WaitVisible(`#cart [data-inc="diavola"]`),
		chromedp.WaitEnabled(`#place-order`),
		chromedp.Click(`#place-order`),
		chromedp.WaitVisible(`#my-orders li[data-status="baking"]`),
		chromedp.WaitVisible(`#board-ready li[data-order]`),
		chromedp.Sleep(4*time.Second), // a few panel samples for the chart
	)
	if err != nil {
		t.Fatal(err)
	}
	status, err := chromedp.Run(ctx, chromedp.Text(`#my-orders li .pill`))
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.ArtifactDir(), "pizzeria.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	if dst := os.Getenv("E2E_SCREENSHOT"); dst != "" {
		if err := os.WriteFile(dst, shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshot: %s", path)
	if !strings.EqualFold(status, "ready") {
		t.Errorf("order status on the page = %q, want ready", status)
	}
}
