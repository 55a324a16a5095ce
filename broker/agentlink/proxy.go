package agentlink

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"
)

// proxyFor picks the proxy for addr: setting "" follows HTTPS_PROXY and
// NO_PROXY, "direct" means none, anything else is the proxy URL.
func proxyFor(setting, addr string) (*url.URL, error) {
	switch setting {
	case "direct":
		return nil, nil
	case "":
		return http.ProxyFromEnvironment(&http.Request{URL: &url.URL{Scheme: "https", Host: addr}})
	}
	u, err := url.Parse(setting)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("agentlink: bad proxy URL %q", setting)
	}
	return u, nil
}

// maxProxyResponse bounds the proxy's answer to CONNECT.
const maxProxyResponse = 16 << 10

// dialConnect opens a tunnel to addr through an HTTP proxy's CONNECT.
func dialConnect(ctx context.Context, proxy *url.URL, addr string) (net.Conn, error) {
	host := proxy.Host
	if proxy.Port() == "" {
		host = net.JoinHostPort(proxy.Hostname(), "8080")
		if proxy.Scheme == "https" {
			host = net.JoinHostPort(proxy.Hostname(), "443")
		}
	}
	if proxy.Scheme != "http" && proxy.Scheme != "" {
		return nil, fmt.Errorf("agentlink: proxy scheme %q is not supported (use http://)", proxy.Scheme)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("agentlink: dialing proxy %s: %w", host, err)
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	req := fmt.Sprintf("CONNECT %s HTTP/1.1\r\nHost: %s\r\n", addr, addr)
	if u := proxy.User; u != nil {
		pw, _ := u.Password()
		req += "Proxy-Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+pw)) + "\r\n"
	}
	req += "\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		c.Close()
		return nil, fmt.Errorf("agentlink: proxy CONNECT: %w", err)
	}
	br := bufio.NewReaderSize(&limitedConn{Conn: c, left: maxProxyResponse}, 1024)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("agentlink: proxy CONNECT: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		c.Close()
		return nil, fmt.Errorf("agentlink: proxy refused CONNECT to %s: %s", addr, resp.Status)
	}
	if br.Buffered() > 0 {
		// The broker speaks only after the agent's TLS ClientHello, so
		// bytes here mean a confused proxy.
		c.Close()
		return nil, fmt.Errorf("agentlink: proxy sent data before the tunnel opened")
	}
	return c, nil
}

// limitedConn reads at most left bytes, for the proxy's response.
type limitedConn struct {
	net.Conn
	left int
}

func (l *limitedConn) Read(b []byte) (int, error) {
	if l.left <= 0 {
		return 0, fmt.Errorf("agentlink: proxy response longer than %d bytes", maxProxyResponse)
	}
	// Read one byte at a time would be safe but slow; reading at most
	// what is left keeps the bound.
	b = b[:min(len(b), l.left)]
	n, err := l.Conn.Read(b)
	l.left -= n
	return n, err
}
