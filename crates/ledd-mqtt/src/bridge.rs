//! One session of the bridge: an MQTT connection to the broker and the
//! connections to ledd, wired together. Orders from `set` topics go to
//! ledd, its replies to `result`; what ledd's `watch` reports goes to
//! `state`, `availability` and discovery. Everything runs on one thread;
//! at rest, only the MQTT keep-alive wakes it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ledd_protocol::{ErrorKind, Event, Reply};
use log::{debug, error, info, warn};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{
    ConnectReturnCode, Filter, LastWill, Packet, Publish, RetainForwardRule,
};
use rumqttc::v5::{AsyncClient, ConnectionError, EventLoop, MqttOptions};
use rumqttc::{Outgoing, TlsConfiguration, Transport};
use tokio::signal::unix::Signal;
use tokio::sync::mpsc::{self, Receiver, Sender, UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;

use crate::backoff::Backoff;
use crate::config::Config;
use crate::credentials::Credentials;
use crate::discovery::{self, LedDescription};
use crate::link::{self, WatchNews};
use crate::payload;
use crate::topics::Topics;

/// Waits between attempts to reach the broker again.
const BROKER_RETRY_FIRST: Duration = Duration::from_secs(1);
const BROKER_RETRY_MAX: Duration = Duration::from_secs(60);
/// Requests the MQTT client may queue for its event loop.
const REQUEST_QUEUE: usize = 256;
/// Orders waiting for ledd; more are refused at once (`err busy`).
const ORDER_QUEUE: usize = 64;
/// Largest MQTT packet taken from the broker: room for any order payload
/// (the rest is refused by size, with an answer, not by dropping the link).
const MAX_PACKET: u32 = 64 * 1024;
/// QoS 1 publications awaiting the broker's PUBACK. rumqttc's v5 client
/// keeps a slot per possible packet id up to this limit: its default
/// (65,535) costs 13 MiB per bridge; states and results are few at a time.
const MAX_INFLIGHT: u16 = 100;
/// How long a clean stop waits for the broker to take the last messages.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// The signals a session answers.
pub struct Signals {
    pub hangup: Signal,
    pub terminate: Signal,
    pub interrupt: Signal,
}

/// How a session ended.
pub enum Ended {
    /// SIGTERM or SIGINT.
    Stop,
    /// SIGHUP with a configuration that loads: start again with it.
    Reload(Box<(Config, Credentials)>),
}

/// What the task that drives the MQTT event loop reports.
enum MqttNews {
    Connected,
    Message(Publish),
    Lost(String),
    Closed,
}

/// An order from a `set` topic, on its way to ledd.
struct PendingOrder {
    led: String,
    line: String,
}

/// What the bridge knows of one LED ledd watches.
#[derive(Default)]
struct Led {
    /// The latest event: what the LED shows.
    shown: Option<Event>,
    /// The `max_brightness` its discovery config was published with.
    announced: Option<u64>,
}

pub struct Session {
    config: Config,
    topics: Topics,
    device_id: String,
    client: AsyncClient,
    mqtt_news: UnboundedReceiver<MqttNews>,
    mqtt_task: JoinHandle<()>,
    watch_news: UnboundedReceiver<WatchNews>,
    watch_task: JoinHandle<()>,
    orders: Sender<PendingOrder>,
    replies: UnboundedReceiver<(String, Reply)>,
    order_task: JoinHandle<()>,
    leds: BTreeMap<String, Led>,
    broker_up: bool,
    /// `None` until the first attempt to reach ledd ends, so a starting
    /// bridge does not say `offline` for the moment before it reaches ledd.
    ledd_up: Option<bool>,
    /// Set after the first failure of an outage, to log it once.
    ledd_outage: Option<String>,
}

/// The MQTT options of this configuration (client id from the node name,
/// the last will, credentials and TLS).
fn mqtt_options(config: &Config, credentials: &Credentials, topics: &Topics) -> MqttOptions {
    let client_id = format!("ledd-mqtt-{}", config.node);
    let mut options = MqttOptions::new(client_id, config.broker.host.clone(), config.broker.port);
    options
        .set_keep_alive(config.keepalive)
        .set_clean_start(true)
        .set_max_packet_size(Some(MAX_PACKET))
        .set_outgoing_inflight_upper_limit(MAX_INFLIGHT)
        .set_last_will(LastWill::new(
            topics.availability(),
            "offline",
            QoS::AtLeastOnce,
            true,
            None,
        ));
    if let Some(username) = &config.username {
        options.set_credentials(
            username.clone(),
            credentials.password.clone().unwrap_or_default(),
        );
    }
    if let Some(tls) = &credentials.tls {
        options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
            tls.clone(),
        )));
    }
    options
}

/// Why the broker connection failed, in words that say what to check.
fn explain(error: &ConnectionError, config: &Config) -> String {
    match error {
        ConnectionError::ConnectionRefused(
            ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized,
        ) => "the broker refused the connection: bad user name or password, or not authorized \
              (check username and password_file, and the broker's password file)"
            .into(),
        ConnectionError::ConnectionRefused(
            ConnectReturnCode::BadClientId | ConnectReturnCode::ClientIdentifierNotValid,
        ) => format!(
            "the broker rejected the client id ledd-mqtt-{} (is another node named {} too?)",
            config.node, config.node
        ),
        ConnectionError::ConnectionRefused(code) => {
            format!("the broker refused the connection: {code:?}")
        }
        ConnectionError::Tls(error) => format!(
            "TLS with {} failed: {error} (check ca_file, and that the broker's certificate names {})",
            config.broker, config.broker.host
        ),
        ConnectionError::Timeout(_) => "no answer from the broker in time".into(),
        ConnectionError::Io(error) => format!("{error}"),
        other => format!("{other}"),
    }
}

/// Drives rumqttc's event loop: it connects, reconnects (after a capped
/// backoff) and reads; what matters is reported on `news`.
async fn drive_mqtt(mut eventloop: EventLoop, config: Config, news: UnboundedSender<MqttNews>) {
    let mut backoff = Backoff::new(BROKER_RETRY_FIRST, BROKER_RETRY_MAX);
    loop {
        let report = match eventloop.poll().await {
            Ok(rumqttc::v5::Event::Incoming(Packet::ConnAck(_))) => {
                backoff.reset();
                MqttNews::Connected
            }
            Ok(rumqttc::v5::Event::Incoming(Packet::Publish(message))) => {
                MqttNews::Message(message)
            }
            Ok(rumqttc::v5::Event::Outgoing(Outgoing::Disconnect)) => {
                let _ = news.send(MqttNews::Closed);
                return;
            }
            Ok(_) => continue,
            Err(error) => {
                let wait = backoff.next_wait();
                let reason = format!(
                    "{}; next attempt in {} s",
                    explain(&error, &config),
                    wait.as_secs()
                );
                if news.send(MqttNews::Lost(reason)).is_err() {
                    return;
                }
                tokio::time::sleep(wait).await;
                continue;
            }
        };
        if news.send(report).is_err() {
            return;
        }
    }
}

/// Carries out the orders one after the other, so they reach ledd in the
/// order they came, and hands back each reply.
async fn carry_out_orders(
    socket: PathBuf,
    mut orders: Receiver<PendingOrder>,
    replies: UnboundedSender<(String, Reply)>,
) {
    while let Some(order) = orders.recv().await {
        let reply = link::send_order(&socket, &order.line).await;
        if replies.send((order.led, reply)).is_err() {
            return;
        }
    }
}

impl Session {
    /// Starts the tasks of a session; the broker and ledd are reached in
    /// the background, and retried until they answer.
    pub fn start(config: Config, credentials: &Credentials) -> Session {
        let topics = Topics::new(&config);
        let device_id = discovery::device_id(&config.node);
        let (client, eventloop) =
            AsyncClient::new(mqtt_options(&config, credentials, &topics), REQUEST_QUEUE);
        let (mqtt_tx, mqtt_news) = mpsc::unbounded_channel();
        let mqtt_task = tokio::spawn(drive_mqtt(eventloop, config.clone(), mqtt_tx));
        let (watch_tx, watch_news) = mpsc::unbounded_channel();
        let watch_task = tokio::spawn(link::watch(config.socket.clone(), watch_tx));
        let (orders, order_rx) = mpsc::channel(ORDER_QUEUE);
        let (reply_tx, replies) = mpsc::unbounded_channel();
        let order_task = tokio::spawn(carry_out_orders(config.socket.clone(), order_rx, reply_tx));
        info!(
            "node {}: broker {}, topics {}, ledd at {}",
            config.node,
            config.broker,
            topics.command("LED").trim_end_matches("/LED/set"),
            config.socket.display()
        );
        Session {
            config,
            topics,
            device_id,
            client,
            mqtt_news,
            mqtt_task,
            watch_news,
            watch_task,
            orders,
            replies,
            order_task,
            leds: BTreeMap::new(),
            broker_up: false,
            ledd_up: None,
            ledd_outage: None,
        }
    }

    /// Runs until a signal ends the session.
    pub async fn run(&mut self, signals: &mut Signals, config_path: &Path) -> Ended {
        loop {
            tokio::select! {
                Some(news) = self.mqtt_news.recv() => self.on_mqtt(news),
                Some(news) = self.watch_news.recv() => self.on_watch(news),
                Some((led, reply)) = self.replies.recv() => self.on_reply(&led, &reply),
                _ = signals.terminate.recv() => return Ended::Stop,
                _ = signals.interrupt.recv() => return Ended::Stop,
                _ = signals.hangup.recv() => {
                    match crate::load(config_path) {
                        Ok(loaded) => return Ended::Reload(Box::new(loaded)),
                        Err(problem) => {
                            error!("{problem}");
                            error!("reload refused: the running configuration stays");
                        }
                    }
                }
            }
        }
    }

    /// Ends the session cleanly: `offline`, then a DISCONNECT, so the
    /// broker drops the will.
    pub async fn stop(mut self) {
        if self.broker_up {
            self.publish(&self.topics.availability(), true, "offline".into());
        }
        if self.client.try_disconnect().is_ok() {
            let closed = async {
                while let Some(news) = self.mqtt_news.recv().await {
                    if matches!(news, MqttNews::Closed) {
                        return;
                    }
                }
            };
            if tokio::time::timeout(STOP_GRACE, closed).await.is_err() {
                warn!(
                    "the broker did not take the disconnection within {} s",
                    STOP_GRACE.as_secs()
                );
            }
        }
        self.mqtt_task.abort();
        self.watch_task.abort();
        self.order_task.abort();
    }

    fn publish(&self, topic: &str, retain: bool, payload: Vec<u8>) {
        if let Err(error) = self
            .client
            .try_publish(topic, QoS::AtLeastOnce, retain, payload)
        {
            // Only a full queue (a broker that stalls): what is retained is
            // published again at the next connection.
            warn!("could not queue a message for {topic}: {error}");
        }
    }

    fn on_mqtt(&mut self, news: MqttNews) {
        match news {
            MqttNews::Connected => {
                info!("connected to the broker {}", self.config.broker);
                self.broker_up = true;
                let filters = self.topics.subscriptions();
                let subscriptions = filters.iter().map(|path| Filter {
                    path: path.clone(),
                    qos: QoS::AtLeastOnce,
                    nolocal: true,
                    // Retain-as-published: a retained order keeps its flag,
                    // live as when it is replayed at subscription, so it is
                    // told apart, ignored and logged (someone must clear it).
                    preserve_retain: true,
                    retain_forward_rule: RetainForwardRule::OnEverySubscribe,
                });
                // A clean session forgets subscriptions: made again at each connection.
                if let Err(error) = self.client.try_subscribe_many(subscriptions) {
                    warn!("could not subscribe to {}: {error}", filters.join(", "));
                }
                self.publish_everything();
            }
            MqttNews::Lost(reason) => {
                if self.broker_up {
                    warn!("lost the broker {}: {reason}", self.config.broker);
                } else {
                    warn!(
                        "cannot connect to the broker {}: {reason}",
                        self.config.broker
                    );
                }
                self.broker_up = false;
            }
            MqttNews::Message(message) => self.on_message(&message),
            MqttNews::Closed => {}
        }
    }

    /// After a (re)connection, or when Home Assistant asks: availability,
    /// discovery and every LED's state.
    fn publish_everything(&mut self) {
        self.publish_availability();
        for led in self.leds.values_mut() {
            led.announced = None;
        }
        let names: Vec<String> = self.leds.keys().cloned().collect();
        for name in names {
            self.publish_led(&name);
        }
    }

    fn publish_availability(&self) {
        if !self.broker_up {
            return;
        }
        if let Some(up) = self.ledd_up {
            let word = if up { "online" } else { "offline" };
            self.publish(&self.topics.availability(), true, word.into());
        }
    }

    /// Publishes an LED's state, and its discovery config first if that
    /// has not been published as it is now.
    fn publish_led(&mut self, name: &str) {
        if !self.broker_up {
            return;
        }
        let Some(led) = self.leds.get(name) else {
            return;
        };
        let Some(event) = &led.shown else { return };
        let max_brightness = payload::max_brightness(event);
        let state = payload::state_json(event).to_string().into_bytes();
        let discovery = match self.topics.discovery(name) {
            Some(topic) if led.announced != Some(max_brightness) => {
                let description = LedDescription {
                    led: name,
                    max_brightness,
                };
                let config = discovery::config(&self.topics, &self.device_id, &description);
                Some((topic, config.to_string().into_bytes()))
            }
            _ => None,
        };
        if let Some((topic, config)) = discovery {
            self.publish(&topic, true, config);
            if let Some(led) = self.leds.get_mut(name) {
                led.announced = Some(max_brightness);
            }
        }
        self.publish(&self.topics.state(name), true, state);
    }

    fn on_message(&mut self, message: &Publish) {
        let Ok(topic) = std::str::from_utf8(&message.topic) else {
            debug!("ignored a message whose topic is not UTF-8");
            return;
        };
        if self.topics.home_assistant_status().as_deref() == Some(topic) {
            if message.payload.as_ref() == b"online" {
                info!("Home Assistant is online: publishing discovery again");
                self.publish_everything();
            }
            return;
        }
        let Some(led) = self.topics.set_target(topic) else {
            debug!("ignored a message on {topic}");
            return;
        };
        if message.retain && message.payload.is_empty() {
            debug!("{topic}: a retained order was cleared");
            return;
        }
        if message.retain {
            warn!(
                "ignored a retained order on {topic}: a retained order would be carried out again \
                 at every start (clear it: mosquitto_pub -r -n -t '{topic}')"
            );
            return;
        }
        let line = match payload::order_line(led, &message.payload) {
            Ok(line) => line,
            Err(refusal) => {
                info!("refused a message on {topic}: {refusal}");
                let led = led.to_string();
                self.on_reply(&led, &Reply::Err(refusal));
                return;
            }
        };
        debug!("order from {topic}: {line}");
        let order = PendingOrder {
            led: led.to_string(),
            line,
        };
        if let Err(
            mpsc::error::TrySendError::Full(order) | mpsc::error::TrySendError::Closed(order),
        ) = self.orders.try_send(order)
        {
            let refusal = ledd_protocol::OrderError::new(
                ledd_protocol::ErrorKind::Busy,
                format!("{ORDER_QUEUE} orders already wait for ledd; send this one again later"),
            );
            self.on_reply(&order.led, &Reply::Err(refusal));
        }
    }

    fn on_reply(&self, led: &str, reply: &Reply) {
        if ledd_protocol::is_valid_led_name(led) && self.broker_up {
            self.publish(
                &self.topics.result(led),
                false,
                reply.to_string().into_bytes(),
            );
        }
    }

    fn on_watch(&mut self, news: WatchNews) {
        match news {
            WatchNews::Watching(names) => {
                info!("watching ledd's LEDs: {}", names.join(", "));
                self.ledd_up = Some(true);
                self.ledd_outage = None;
                let gone: Vec<String> = self
                    .leds
                    .keys()
                    .filter(|name| !names.contains(name))
                    .cloned()
                    .collect();
                for name in gone {
                    self.forget(&name);
                }
                for name in names {
                    self.leds.entry(name).or_default();
                }
                self.publish_availability();
            }
            WatchNews::Event(event) => {
                let Some(name) = event.field("led").map(str::to_string) else {
                    return;
                };
                debug!("ledd: {event}");
                // The last event of an LED a reload of ledd removed; one it
                // added simply arrives as the first event of a new name.
                if event.field("error") == Some(ErrorKind::UnknownLed.as_str()) {
                    self.forget(&name);
                    return;
                }
                self.leds.entry(name.clone()).or_default().shown = Some(event);
                self.publish_led(&name);
            }
            WatchNews::Lost(reason) => {
                if self.ledd_outage.as_deref() != Some(reason.as_str()) {
                    warn!("{reason}; trying again (LEDs keep what they show)");
                }
                self.ledd_outage = Some(reason);
                if self.ledd_up != Some(false) {
                    self.ledd_up = Some(false);
                    self.publish_availability();
                }
            }
        }
    }

    /// An LED ledd no longer has (after its reload): its retained topics
    /// are cleared, so Home Assistant drops it.
    fn forget(&mut self, name: &str) {
        info!("LED {name} is no longer ledd's: removing its topics");
        self.leds.remove(name);
        if !self.broker_up {
            return;
        }
        self.publish(&self.topics.state(name), true, Vec::new());
        if let Some(topic) = self.topics.discovery(name) {
            self.publish(&topic, true, Vec::new());
        }
    }
}
