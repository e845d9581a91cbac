//! Unit tests of the node loop: queues, limits, errors, routing.

use super::*;
use crate::config::{NhrpConfig, Password, TunnelMode};

fn hub_config() -> NodeConfig {
    NodeConfig {
        hostname: "hub".into(),
        tunnels: vec![TunnelConfig {
            name: "Tunnel0".into(),
            address: "10.0.0.1/24".parse().unwrap(),
            source: "172.17.0.1".parse().unwrap(),
            mode: TunnelMode::Multipoint,
            key: Some(7),
            mtu: 1400,
            underlay_mtu: 1500,
            adjust_mss: None,
            verify_unicast_source: false,
            nhrp: NhrpConfig {
                authentication: Some(Password::new("s3cret")),
                map_multicast_dynamic: true,
                ..NhrpConfig::new(1)
            },
            protection: None,
            ipv6: None,
        }],
        networks: Vec::new(),
        crypto: Default::default(),
    }
}

#[test]
fn the_password_never_shows_and_bad_input_is_counted() {
    let now = Instant::now();
    let mut hub = Node::new(now, hub_config(), Entropy::from_seed(0)).unwrap();
    assert!(!format!("{hub:?}").contains("s3cret"));
    assert_eq!(hub.role(0), Some(Role::Hub));
    let src: IpAddr = "192.0.2.1".parse().unwrap();
    let dst: IpAddr = "172.17.0.1".parse().unwrap();
    let e = hub.handle_input(Input::Underlay {
        now,
        src,
        dst,
        payload: &[1, 2, 3],
    });
    assert!(matches!(e, Err(Error::Gre(_))));
    let e = hub.handle_input(Input::Underlay {
        now,
        src,
        dst: src,
        payload: &[],
    });
    assert_eq!(e, Err(Error::NotLocal(src)));
    assert!(matches!(
        hub.handle_input(Input::Overlay {
            now,
            packet: &[0x45]
        }),
        Err(Error::MalformedOverlay(_))
    ));
    let s = hub.stats();
    assert_eq!(
        (s.underlay_in, s.gre_dropped, s.underlay_not_local),
        (2, 1, 1)
    );
    assert_eq!(s.overlay_malformed, 1);
    assert!(matches!(hub.poll_output(), Output::Timeout(None)));
    // Routes need a tunnel for their next hop.
    assert_eq!(
        hub.add_route(
            "192.168.9.0/24".parse().unwrap(),
            "10.9.9.9".parse().unwrap()
        ),
        Err(Error::NoTunnelFor("10.9.9.9".parse().unwrap()))
    );
}

#[test]
fn invalid_configuration_lists_every_problem() {
    let mut cfg = hub_config();
    cfg.tunnels[0].nhrp.holdtime = 0;
    cfg.tunnels[0].mtu = 10;
    match Node::new(Instant::now(), cfg, Entropy::from_seed(0)) {
        Err(Error::Config(c)) => assert_eq!(c.0.len(), 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn poll_output_yields_transmits_then_deliveries_then_events_then_the_timeout() {
    let now = Instant::now();
    let mut hub = Node::new(now, hub_config(), Entropy::from_seed(0)).unwrap();
    hub.event(
        0,
        EventKind::NbmaPeerUp {
            nbma: "192.0.2.7".parse().unwrap(),
        },
    );
    hub.deliver(0, &[0x45, 0, 0, 20]).unwrap();
    hub.transmits.push_back(Transmit {
        src: "172.17.0.1".parse().unwrap(),
        dst: "192.0.2.7".parse().unwrap(),
        proto: dmvpn_wire::Proto::GRE,
        payload: vec![1],
    });
    assert!(matches!(hub.poll_output(), Output::Transmit(t) if t.payload == [1]));
    assert!(
        matches!(hub.poll_output(), Output::Deliver(d) if d.tunnel == 0 && d.packet() == [0x45, 0, 0, 20])
    );
    assert!(matches!(
        hub.poll_output(),
        Output::Event(Event { kind: EventKind::NbmaPeerUp { .. }, ref interface, .. })
            if &**interface == "Tunnel0"
    ));
    assert_eq!(hub.poll_output(), Output::Timeout(None));
    assert_eq!(hub.stats().delivered, 1);
}

#[test]
fn full_queues_drop_and_count() {
    let now = Instant::now();
    let limits = Limits {
        max_delivers: 1,
        max_events: 1,
        ..Limits::default()
    };
    let mut hub = Node::with_limits(now, hub_config(), Entropy::from_seed(0), limits).unwrap();
    hub.deliver(0, &[0x45]).unwrap();
    assert_eq!(hub.deliver(0, &[0x45]), Err(Error::QueueFull(1)));
    hub.event(
        0,
        EventKind::NbmaPeerUp {
            nbma: "192.0.2.7".parse().unwrap(),
        },
    );
    hub.event(
        0,
        EventKind::NbmaPeerDown {
            nbma: "192.0.2.7".parse().unwrap(),
        },
    );
    let s = hub.stats();
    assert_eq!(
        (s.delivered, s.delivers_dropped, s.events_dropped),
        (1, 1, 1)
    );
    assert_eq!(hub.events.len(), 1);
}

#[test]
fn a_longer_connected_subnet_beats_a_shorter_route() {
    let now = Instant::now();
    let mut hub = Node::new(now, hub_config(), Entropy::from_seed(0)).unwrap();
    let via: IpAddr = "10.0.0.11".parse().unwrap();
    hub.add_route("10.0.0.0/16".parse().unwrap(), via).unwrap();
    hub.add_route("192.168.1.0/24".parse().unwrap(), via)
        .unwrap();
    let peer: IpAddr = "10.0.0.12".parse().unwrap();
    assert_eq!(hub.lookup(peer), Some((0, peer, false)));
    assert_eq!(
        hub.lookup("192.168.1.9".parse().unwrap()),
        Some((0, via, false))
    );
    assert_eq!(
        hub.lookup("10.0.7.1".parse().unwrap()),
        Some((0, via, false))
    );
    assert_eq!(hub.lookup("172.31.0.1".parse().unwrap()), None);
    assert!(hub.remove_route("192.168.1.0/24".parse().unwrap()));
    assert!(!hub.remove_route("192.168.1.0/24".parse().unwrap()));
}
