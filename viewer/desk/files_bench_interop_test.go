//go:build interop && linux

package desk_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"lifebuoy/broker"
	"lifebuoy/rfb"
	"lifebuoy/rfb/rfbtest"
	"lifebuoy/viewer/api"
	"lifebuoy/viewer/desktest"
	"lifebuoy/viewer/store"
)

// peakRSS resets (clear_refs 5) or reads (VmHWM) a process's peak
// resident set, in bytes.
func resetPeak(b *testing.B, pid int) {
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		b.Fatal(err)
	}
}

func peakRSS(b *testing.B, pid int) float64 {
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(s), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb * 1024
		}
	}
	b.Fatal("no VmHWM")
	return 0
}

func median(xs []float64) float64 {
	sort.Float64s(xs)
	return xs[len(xs)/2]
}

// BenchmarkFileTransfer1GiB moves a 1 GiB file to the customer (put) and
// back (get) through the broker on loopback: HTTPS to the desk, the
// broker's files connection (TLS) to the real agent, the agent's disk;
// and, interleaved with each, socat copying the same file from disk to
// disk over plain TCP on loopback. It reports the medians of both, their
// ratio, and the peak RSS of the agent and of this process (broker,
// desk and the client) during the transfers. Run with -benchtime 3x.
func BenchmarkFileTransfer1GiB(b *testing.B) {
	rfbtest.LookPath(b, "socat")
	env := desktest.Start(b, desktest.Options{Log: slog.New(slog.DiscardHandler)})
	env.AddAccount(b, "anna", "Anna Berger", "Acme Support", store.RoleSupporter)
	cl := api.NewClient(env.URL, env.Token(b, "anna"), &http.Client{Transport: env.HTTPClient().Transport})
	ctx := context.Background()
	code, err := cl.NewCode(ctx)
	if err != nil {
		b.Fatal(err)
	}
	cust := desktest.NewCustomer(b, 320, 200)
	agent := cust.Agent(env, code.Code)
	go func() {
		conn, err := net.Dial("tcp", env.ViewerAddr)
		if err == nil {
			if v, err := rfb.NewClient(ctx, conn, rfb.ClientConfig{Password: code.Code, Security: []rfb.SecurityType{rfb.SecVNCAuth}}); err == nil {
				b.Cleanup(func() { v.Close() })
			}
		}
	}()
	agent.Expect(`^prompt Allow`, desktest.WaitTimeout)
	agent.Send("y")
	env.WaitSession(b, code.Code, desktest.WaitTimeout, func(si broker.SessionInfo) bool { return si.State == "relaying" })
	agent.Send("files on")
	agent.Expect(`files=on`, desktest.WaitTimeout)

	const size = 1 << 30
	dir := b.TempDir()
	src := filepath.Join(dir, "gib.bin")
	block := make([]byte, 1<<20)
	for i := range block {
		block[i] = byte(i * 7 / 3)
	}
	f, err := os.Create(src)
	if err != nil {
		b.Fatal(err)
	}
	for range size / len(block) {
		f.Write(block)
	}
	f.Close()
	landed := filepath.Join(cust.Home, "Downloads", "Lifebuoy", "gib.bin")

	var put, get, socat, agentPeak, selfPeak []float64
	b.ResetTimer()
	for range b.N {
		// socat, disk to disk over loopback TCP.
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		dst := filepath.Join(dir, "socat.out")
		recv := rfbtest.Start(b, nil, "socat", "-u", fmt.Sprintf("TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr", port), "CREATE:"+dst)
		var t0 time.Time
		for try := 0; ; try++ {
			t0 = time.Now()
			if _, err := rfbtest.Run(b, ctx, nil, "socat", "-u", "FILE:"+src, fmt.Sprintf("TCP:127.0.0.1:%d", port)); err == nil {
				break
			} else if try == 50 {
				b.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond) // the listener is not up yet
		}
		if err := recv.Wait(time.Minute); err != nil {
			b.Fatal(err)
		}
		socat = append(socat, size/time.Since(t0).Seconds())
		os.Remove(dst)

		// lifebuoy put and get.
		resetPeak(b, agent.Pid())
		resetPeak(b, os.Getpid())
		r, _ := os.Open(src)
		t0 = time.Now()
		if _, err := cl.PutFile(ctx, code.Code, "gib.bin", size, r); err != nil {
			b.Fatal(err)
		}
		put = append(put, size/time.Since(t0).Seconds())
		r.Close()
		t0 = time.Now()
		d, err := cl.GetFile(ctx, code.Code, "Downloads/Lifebuoy/gib.bin", "")
		if err != nil {
			b.Fatal(err)
		}
		out, _ := os.Create(filepath.Join(dir, "got.bin"))
		if n, err := io.Copy(out, d); err != nil || n != size {
			b.Fatalf("get: %d bytes, %v", n, err)
		}
		d.Close()
		out.Close()
		get = append(get, size/time.Since(t0).Seconds())
		agentPeak = append(agentPeak, peakRSS(b, agent.Pid()))
		selfPeak = append(selfPeak, peakRSS(b, os.Getpid()))
		os.Remove(landed)
		os.Remove(filepath.Join(dir, "got.bin"))
	}
	b.StopTimer()
	mp, mg, ms := median(put), median(get), median(socat)
	b.ReportMetric(mp/1e6, "put-MB/s")
	b.ReportMetric(mg/1e6, "get-MB/s")
	b.ReportMetric(ms/1e6, "socat-MB/s")
	b.ReportMetric(mp/ms, "put/socat")
	b.ReportMetric(mg/ms, "get/socat")
	b.ReportMetric(median(agentPeak)/(1<<20), "agent-peak-RSS-MiB")
	b.ReportMetric(median(selfPeak)/(1<<20), "broker+desk+client-peak-RSS-MiB")
}
