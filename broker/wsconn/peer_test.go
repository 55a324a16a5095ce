package wsconn

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Another implementation, as the browser's and the agent's peers are
// other implementations: coder/websocket's client against our server,
// and our client against its server.
func TestAgainstCoderWebsocket(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	payload := bytes.Repeat([]byte("0123456789abcdef"), 10_000)

	ours := echoServer(t, Options{})
	theirs, _, err := websocket.Dial(ctx, "wss"+strings.TrimPrefix(ours.URL, "https"), &websocket.DialOptions{
		HTTPClient: ours.Client(), Subprotocols: []string{"binary"}})
	if err != nil {
		t.Fatal(err)
	}
	nc := websocket.NetConn(ctx, theirs, websocket.MessageBinary)
	go nc.Write(payload)
	got := make([]byte, len(payload))
	if _, err := io.ReadFull(nc, got); err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("coder client → our server: %v", err)
	}
	go io.Copy(io.Discard, nc) // coder reads the pong in its reader
	if err := theirs.Ping(ctx); err != nil {
		t.Fatalf("our server answers coder's ping: %v", err)
	}
	nc.Close()

	coderSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"binary"}})
		if err != nil {
			return
		}
		n := websocket.NetConn(context.Background(), c, websocket.MessageBinary)
		defer n.Close()
		io.Copy(n, n)
	}))
	defer coderSrv.Close()
	c := dialEcho(t, coderSrv, DialOptions{Subprotocol: Subprotocol})
	go c.Write(payload)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("our client → coder server: %v", err)
	}
}
