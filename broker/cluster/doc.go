// Package cluster lets several brokers serve as one, on PostgreSQL.
//
// Each node keeps a Directory: it heartbeats into lifebuoy_nodes, claims
// the codes it issues in lifebuoy_codes (a conditional insert that can
// take over an expired code or one whose node is dead, so a code is
// unique among the cluster's live codes), and keeps a replica of every
// live code, fed by a trigger's NOTIFY and read whole on (re)connect and
// every minute. The replica is what lets a node test a 5511 VNC
// Authentication response against every live code of the cluster: the
// viewer never sends the code itself.
//
//	d, err := cluster.Open(ctx, cluster.Config{DSN: "postgres://broker@db/lifebuoy",
//		Node: "a", PeerAddr: "10.0.0.1:5516"}, log)
//	go d.Run(ctx)
//	ok, err := d.Claim(ctx, "482913", time.Now().Add(10*time.Minute))
//	code, node, peer, found := d.MatchVNCAuth(challenge, response, time.Now())
//
// The sessions themselves never touch the database: a node that admitted
// a viewer for another node's code splices it to that node's peer port
// (see the broker's peer.go).
package cluster
