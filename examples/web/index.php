<?php
/*
 * ledd — page web de la salle de classe.
 *
 * Remplace l'ancien formulaire PHP qui lançait `python3 clientLed2.py` par shell_exec.
 * Cette page parle directement au démon ledd par son socket Unix (protocole 1, une
 * ligne par ordre), sans shell ni sudo :
 *   - GET  : demande `list` puis `status LED` et affiche l'état de la LED ; la page
 *            redemande cet état toutes les 2 s (GET ?etat=json, en lecture seule) et
 *            le met à jour sans se recharger : un ordre venu d'ailleurs (ledctl, un
 *            autre élève, la fin d'une revendication) s'y voit aussitôt ;
 *   - POST : valide les champs, envoie UN seul ordre (`blink LED FREQ` ou `off LED`),
 *            puis redirige (303) vers la page en GET pour qu'un rechargement ne
 *            renvoie pas l'ordre (le message s'affiche une fois, via la session).
 * PHP 7.4 ou plus récent. Aucune ressource externe.
 */
declare(strict_types=1);

// Le seul réglage : le chemin du socket de ledd (la variable d'environnement LEDD_SOCKET
// le remplace, ce qui sert aux tests).
const LEDD_SOCKET = '/run/ledd/ledd.sock';

const LEDD_TIMEOUT = 3.0;      // secondes pour se connecter et pour chaque réponse
const FREQ_MIN = 0.001;        // bornes du protocole de ledd (blink)
const FREQ_MAX = 500.0;
const LED_NAME_RE = '/^[A-Za-z][A-Za-z0-9_-]{0,63}$/D';  // noms logiques de ledd

/** Échappe pour HTML (texte et attributs). */
function h(string $s): string
{
    return htmlspecialchars($s, ENT_QUOTES | ENT_SUBSTITUTE | ENT_HTML5, 'UTF-8');
}

/** Les $n premiers caractères (UTF-8), sans l'extension mbstring (absente par défaut). */
function cut(string $s, int $n): string
{
    return preg_match('/^.{0,' . $n . '}/us', $s, $m) === 1 ? $m[0] : '';
}

/** Typographie française : espaces insécables avant « : » et « Hz », dans les guillemets... */
function typo(string $s): string
{
    $nb = "\u{00A0}";
    $s = str_replace(['« ', ' »'], ["«$nb", "{$nb}»"], $s);
    return preg_replace('/ (?=[:;!?]|Hz\b|ms\b|s\b|%)/u', $nb, $s) ?? $s;
}

/** Texte pour l'utilisateur : typographie puis échappement HTML. */
function txt(string $s): string
{
    return h(typo($s));
}

function socket_path(): string
{
    $env = getenv('LEDD_SOCKET');
    return ($env !== false && $env !== '') ? $env : LEDD_SOCKET;
}

/** Nombre à la française : virgule décimale, sans zéros inutiles. */
function fr_number(float $x, int $decimals = 3): string
{
    $s = number_format($x, $decimals, ',', "\u{202F}");
    if (strpos($s, ',') !== false) {
        $s = rtrim(rtrim($s, '0'), ',');
    }
    return $s;
}

/** Fréquence lisible : « 2 Hz », « 2,5 Hz », « environ 3 Hz » (ledd arrondit au ms). */
function fr_hz(float $f): string
{
    $nearest = round($f);
    if ($nearest >= 1 && abs($f - $nearest) <= 0.01 * $f) {
        return (abs($f - $nearest) < 1e-9 ? '' : 'environ ') . fr_number($nearest, 0) . ' Hz';
    }
    $digits = max(0, 2 - (int) floor(log10($f)));   // 3 chiffres significatifs
    $r = round($f, $digits);
    return (abs($r - $f) < 1e-9 ? '' : 'environ ') . fr_number($r, $digits) . ' Hz';
}

/**
 * Vérifie la fréquence saisie. Renvoie [valeur à envoyer à ledd, null] ou [null, message].
 * Accepte « 2,5 » (virgule française), « 2.5 » et un « Hz » final ; refuse tout le reste.
 */
function parse_freq(string $raw): array
{
    $s = trim($raw);
    $shown = cut($s, 20);
    $range = 'entre 0,001 et 500 Hz';
    if ($s === '') {
        return [null, "Indiquez une fréquence en hertz ($range), par exemple 2 ou 2,5."];
    }
    $s = preg_replace('/\s*hz$/i', '', $s) ?? $s;
    $s = str_replace(',', '.', $s);
    if (preg_match('/^-\s*[0-9.]/', $s)) {
        return [null, "La fréquence doit être positive : « $shown » n'est pas possible. "
            . "Indiquez une valeur $range."];
    }
    if (strlen($s) > 20 || !preg_match('/^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$/D', $s)) {
        return [null, "« $shown » n'est pas un nombre. Indiquez une fréquence en hertz ($range), "
            . "par exemple 2 ou 2,5."];
    }
    $f = (float) $s;
    if ($f < FREQ_MIN || $f > FREQ_MAX) {
        return [null, "La fréquence doit être comprise $range (vous avez demandé « $shown »)."];
    }
    // Forme canonique (point décimal, 6 décimales au plus) : ledd ne voit jamais la saisie brute.
    $canon = rtrim(rtrim(sprintf('%.6F', $f), '0'), '.');
    return [$canon, null];
}

/** ledd injoignable : le message (en français) dit pourquoi et quoi faire. */
final class LeddUnreachable extends RuntimeException
{
}

/** Une réponse de ledd : « ok clé=valeur ... » ou « err TYPE: message ». */
final class Reply
{
    /** @var bool */
    public $ok;
    /** @var array<string,string> */
    public $fields = [];
    /** @var string */
    public $kind = '';
    /** @var string */
    public $message = '';

    public static function parse(string $line): self
    {
        $r = new self();
        if ($line === 'ok' || strncmp($line, 'ok ', 3) === 0) {
            $r->ok = true;
            preg_match_all('/(?:^|\s)([A-Za-z_][A-Za-z0-9_-]*)=(\S*)/', substr($line, 2), $m, PREG_SET_ORDER);
            foreach ($m as $kv) {
                $r->fields[$kv[1]] = $kv[2];
            }
        } elseif (preg_match('/^err ([a-z-]+): ?(.*)$/sD', $line, $m)) {
            $r->ok = false;
            $r->kind = $m[1];
            $r->message = $m[2];
        } else {
            $r->ok = false;
            $r->kind = 'protocole';
            $r->message = "réponse inattendue de ledd : $line";
        }
        return $r;
    }

    public function get(string $key, string $default = ''): string
    {
        return $this->fields[$key] ?? $default;
    }
}

/** Connexion au socket Unix de ledd ; plusieurs ordres par connexion. */
final class Ledd
{
    /** @var resource */
    private $conn;
    /** @var string */
    private $path;

    public function __construct(string $path)
    {
        $this->path = $path;
        $errno = 0;
        $errstr = '';
        $conn = @stream_socket_client('unix://' . $path, $errno, $errstr, LEDD_TIMEOUT);
        if ($conn === false) {
            throw new LeddUnreachable(self::explain($path, $errno, $errstr));
        }
        stream_set_timeout($conn, (int) LEDD_TIMEOUT);
        $this->conn = $conn;
    }

    private static function explain(string $path, int $errno, string $errstr): string
    {
        $who = 'www-data';
        if (function_exists('posix_geteuid') && function_exists('posix_getpwuid')) {
            $pw = posix_getpwuid(posix_geteuid());
            if (is_array($pw)) {
                $who = $pw['name'];
            }
        }
        switch ($errno) {
            case 2:    // ENOENT
                return "Le démon ledd ne tourne pas : le socket $path n'existe pas. "
                    . "Sur le Raspberry Pi, vérifiez avec « systemctl status ledd » "
                    . "et démarrez-le avec « systemctl start ledd ».";
            case 111:  // ECONNREFUSED
                return "Le démon ledd ne répond pas : le socket $path existe mais personne n'écoute "
                    . "(ledd s'est arrêté ou a planté). Redémarrez-le avec « systemctl restart ledd ».";
            case 13:   // EACCES
            case 1:    // EPERM
                return "Accès refusé au socket $path : l'utilisateur du serveur web ($who) "
                    . "n'est pas dans le groupe leds. Ajoutez-le avec « adduser $who leds », "
                    . "puis redémarrez php-fpm ou Apache.";
            case 11:   // EAGAIN : file d'attente pleine
            case 110:  // ETIMEDOUT
                return "Le démon ledd est trop occupé et n'a pas accepté la connexion sur $path. "
                    . "Réessayez dans un instant.";
            default:
                return "Impossible de joindre le démon ledd sur $path : $errstr (errno $errno).";
        }
    }

    /** Envoie un ordre (une ligne) et lit la ligne de réponse. */
    public function ask(string $order): Reply
    {
        if (strpbrk($order, "\r\n\0") !== false) {
            throw new LogicException('ordre sur plusieurs lignes');
        }
        $line = $order . "\n";
        for ($done = 0; $done < strlen($line); $done += $n) {
            $n = @fwrite($this->conn, substr($line, $done));
            if ($n === false || $n === 0) {
                throw new LeddUnreachable("La connexion avec ledd ($this->path) a été coupée pendant l'envoi de l'ordre.");
            }
        }
        $reply = fgets($this->conn, 65536);
        if ($reply === false) {
            $meta = stream_get_meta_data($this->conn);
            if ($meta['timed_out']) {
                throw new LeddUnreachable('Le démon ledd n\'a pas répondu dans les '
                    . fr_number(LEDD_TIMEOUT) . ' s. L\'ordre a peut-être été exécuté : rechargez la page pour voir l\'état.');
            }
            throw new LeddUnreachable("Le démon ledd a fermé la connexion sans répondre ($this->path).");
        }
        return Reply::parse(rtrim($reply, "\r\n"));
    }

    public function __destruct()
    {
        if (is_resource($this->conn)) {
            fclose($this->conn);
        }
    }
}

/** Explication en français d'une réponse « err TYPE: message » de ledd. */
function explain_err(Reply $r): string
{
    $kinds = [
        'usage' => 'ordre mal formé',
        'unknown-led' => 'LED inconnue',
        'range' => 'valeur hors limites',
        'no-device' => 'LED absente de /sys/class/leds',
        'no-trigger' => 'déclencheur du noyau manquant',
        'permission' => 'ledd n\'a pas le droit d\'écrire dans /sys/class/leds',
        'kernel' => 'le noyau a refusé l\'écriture',
        'busy' => 'ledd est occupé, réessayez',
        'too-long' => 'ordre trop long',
        'state' => 'problème avec le fichier d\'état de ledd',
        'denied' => 'ordre interdit par la configuration de ledd',
    ];
    $why = $kinds[$r->kind] ?? $r->kind;
    return "ledd a refusé l'ordre ($why) : $r->message";
}

/** L'état d'une LED (réponse de `status` ou d'un ordre) en français lisible. */
function describe(Reply $r): array
{
    // Renvoie [groupe verbal (« clignote à 3 Hz », « est éteinte »...), détail, classe CSS,
    //          période en s pour l'animation ou null].
    $mode = $r->get('mode', 'unknown');
    if ($r->get('exists') === 'no') {
        return ['est absente : le périphérique ' . $r->get('device', '?') . ' n\'existe pas sur cette machine',
            'Vérifiez le nom du périphérique dans /etc/ledd/ledd.toml.', 'led-absente', null];
    }
    $detail = [];
    if ($r->get('device') !== '') {
        $detail[] = 'périphérique ' . $r->get('device');
    }
    switch ($mode) {
        case 'blink':
            $freq = (float) $r->get('freq', '0');
            $text = $freq > 0 ? 'clignote à ' . fr_hz($freq) : 'clignote';
            $on = $r->get('delay_on');
            $off = $r->get('delay_off');
            if ($on !== '' && $off !== '') {
                array_unshift($detail, "allumée $on ms, éteinte $off ms");
            }
            $duty = $r->get('duty', '50');
            if ($duty !== '50' && $duty !== '') {
                $text .= " (allumée $duty % du temps)";
            }
            // Le point lumineux clignote aussi à l'écran, jusqu'à 10 Hz (au-delà : fixe).
            $period = ($freq > 0 && $freq <= 10) ? 1.0 / $freq : null;
            return [$text, implode(' · ', $detail), 'led-clignote', $period];
        case 'off':
            return ['est éteinte', implode(' · ', $detail), 'led-eteinte', null];
        case 'on':
            $b = $r->get('brightness');
            $max = $r->get('max_brightness');
            if ($b !== '' && $max !== '' && $max !== '1') {
                array_unshift($detail, "luminosité $b sur $max");
            }
            return ['est allumée', implode(' · ', $detail), 'led-allumee', null];
        case 'heartbeat':
            return ['bat comme un cœur (heartbeat)', implode(' · ', $detail), 'led-clignote', 1.2];
        case 'pattern':
            return ['joue un motif lumineux (pattern)', implode(' · ', $detail), 'led-clignote', 1.0];
        case 'unknown':
            return ['est dans un état inconnu (ledd ne l\'a pas encore commandée)', implode(' · ', $detail), 'led-inconnue', null];
        default:
            $trig = $r->get('trigger', $mode);
            return ["est commandée par le déclencheur du noyau « $trig »", implode(' · ', $detail), 'led-allumee', null];
    }
}

// ---------------------------------------------------------------------------------------
// Message « flash » : gardé en session le temps de la redirection (repli : dans l'URL).

function start_session(): bool
{
    if (session_status() === PHP_SESSION_ACTIVE) {
        return true;
    }
    session_name('ledd');
    session_set_cookie_params(['lifetime' => 0, 'path' => '/', 'httponly' => true, 'samesite' => 'Lax']);
    return @session_start();
}

/** Redirige (303 See Other) vers la page en GET avec un message pour l'utilisateur. */
function redirect_with(string $kind, string $text, ?string $led, string $freq = ''): void
{
    $query = [];
    if ($led !== null) {
        $query['led'] = $led;
    }
    if (start_session()) {
        $_SESSION['flash'] = ['kind' => $kind, 'text' => $text, 'freq' => cut($freq, 40)];
    } else {
        $query['k'] = $kind;
        $query['m'] = $text;
    }
    header('Location: ?' . http_build_query($query), true, 303);
}

function take_flash(): ?array
{
    if (isset($_COOKIE['ledd']) && start_session() && isset($_SESSION['flash'])) {
        $f = $_SESSION['flash'];
        unset($_SESSION['flash']);
        return is_array($f) ? $f : null;
    }
    if (isset($_GET['k'], $_GET['m']) && is_string($_GET['k']) && is_string($_GET['m'])) {
        return ['kind' => $_GET['k'] === 'ok' ? 'ok' : 'err', 'text' => $_GET['m'], 'freq' => ''];
    }
    return null;
}

/** Les LED configurées dans ledd (réponse à `list`), ou un message d'erreur. */
function led_list(Ledd $ledd): array
{
    $r = $ledd->ask('list');
    if (!$r->ok) {
        return [[], '', explain_err($r)];
    }
    $leds = array_values(array_filter(explode(',', $r->get('leds')), function ($n) {
        return preg_match(LED_NAME_RE, $n) === 1;
    }));
    if ($leds === []) {
        return [[], '', 'ledd ne commande aucune LED : ajoutez une section [leds.NOM] dans /etc/ledd/ledd.toml.'];
    }
    $default = $r->get('default');
    return [$leds, in_array($default, $leds, true) ? $default : $leds[0], null];
}

// Les tests (tests/web/unit.php) incluent ce fichier pour ses seules fonctions.
if (defined('LEDD_WEB_FUNCTIONS_ONLY')) {
    return;
}

// ---------------------------------------------------------------------------------------
// POST : un clic = un ordre, puis redirection.

header('Content-Type: text/html; charset=utf-8');
header('X-Content-Type-Options: nosniff');
header('Cache-Control: no-store');
// Le seul script permis est celui de cette page (son nonce change à chaque requête) ; il ne
// peut parler qu'à ce serveur (l'état en direct).
$nonce = base64_encode(random_bytes(16));
header("Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-$nonce'; "
    . "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'");
header('Referrer-Policy: no-referrer');

$method = $_SERVER['REQUEST_METHOD'] ?? 'GET';
if ($method === 'POST') {
    $freqRaw = isset($_POST['freq']) && is_string($_POST['freq']) ? $_POST['freq'] : '';
    $ledRaw = isset($_POST['led']) && is_string($_POST['led']) ? $_POST['led'] : null;
    $blink = isset($_POST['clignote']);
    $off = isset($_POST['eteindre']);
    $identify = isset($_POST['identifier']);
    $keepLed = ($ledRaw !== null && preg_match(LED_NAME_RE, $ledRaw) === 1) ? $ledRaw : null;

    if ((int) $blink + (int) $off + (int) $identify !== 1) {
        redirect_with('err', 'Choisissez une action : « Clignoter », « Eteindre » ou « Identifier ».', $keepLed, $freqRaw);
        exit;
    }
    $freq = null;
    if ($blink) {
        [$freq, $problem] = parse_freq($freqRaw);
        if ($problem !== null) {
            redirect_with('err', $problem . ' Aucun ordre n\'a été envoyé.', $keepLed, $freqRaw);
            exit;
        }
    }
    try {
        $ledd = new Ledd(socket_path());
        [$leds, $default, $problem] = led_list($ledd);
        if ($problem !== null) {
            redirect_with('err', $problem, $keepLed, $freqRaw);
            exit;
        }
        if ($ledRaw === null || $ledRaw === '') {
            $led = $default;
        } elseif (in_array($ledRaw, $leds, true)) {
            $led = $ledRaw;
        } else {
            redirect_with('err', 'LED inconnue : « ' . cut($ledRaw, 64) . ' ». Choisissez-en une dans la liste. '
                . 'Aucun ordre n\'a été envoyé.', null, $freqRaw);
            exit;
        }
        // Le seul ordre de ce clic, construit uniquement à partir de valeurs vérifiées.
        // « Identifier » : un clignotement rapide par-dessus tout, 30 s, puis la LED revient
        // d'elle-même à ce qu'elle montrait (une revendication de ledd, voir ledd-protocol(7)).
        $reply = $ledd->ask($blink ? "blink $led $freq" : ($identify ? "identify $led" : "off $led"));
        if ($reply->ok) {
            $msg = $blink
                ? 'Ordre exécuté : clignoter à ' . fr_number((float) $freq) . " Hz sur la LED « $led »."
                : ($identify
                    ? "Ordre exécuté : la LED « $led » clignote vite pendant 30 s pour qu'on la repère, puis revient à son état."
                    : "Ordre exécuté : la LED « $led » est éteinte.");
            redirect_with('ok', $msg, $led, $freqRaw);
        } else {
            redirect_with('err', explain_err($reply), $led, $freqRaw);
        }
    } catch (LeddUnreachable $e) {
        redirect_with('err', $e->getMessage() . ' Aucun ordre n\'a été exécuté.', $keepLed, $freqRaw);
    }
    exit;
}
if ($method !== 'GET' && $method !== 'HEAD') {
    http_response_code(405);
    header('Allow: GET, HEAD, POST');
    echo "Méthode non autorisée.\n";
    exit;
}

// ---------------------------------------------------------------------------------------
// GET ?etat=json : l'état seul, pour la mise à jour en direct (lecture seule : `status`).
// {"ok":true,"led":…,"phrase":…,"detail":…,"classe":…,"periode":s|null} ou {"ok":false,"message":…}

if (isset($_GET['etat']) && $_GET['etat'] === 'json') {
    header('Content-Type: application/json; charset=utf-8');
    header('Cache-Control: no-store');
    $answer = ['ok' => false, 'message' => ''];
    try {
        $ledd = new Ledd(socket_path());
        [$leds, $default, $problem] = led_list($ledd);
        $asked = isset($_GET['led']) && is_string($_GET['led']) ? $_GET['led'] : '';
        $led = in_array($asked, $leds, true) ? $asked : $default;
        if ($problem === null && $led !== null) {
            $st = $ledd->ask("status $led");
            if ($st->ok) {
                [$phrase, $detail, $classe, $periode] = describe($st);
                $answer = ['ok' => true, 'led' => $led,
                    'phrase' => typo("La LED « $led » $phrase."), 'detail' => typo($detail),
                    'classe' => $classe, 'periode' => $periode];
            } else {
                $answer['message'] = typo(explain_err($st));
            }
        } else {
            $answer['message'] = typo((string) $problem);
        }
    } catch (LeddUnreachable $e) {
        $answer['message'] = typo($e->getMessage());
    }
    echo json_encode($answer, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES), "\n";
    exit;
}

// ---------------------------------------------------------------------------------------
// GET : état actuel et formulaire. Seulement des lectures (list, status, version).

$flash = take_flash();
// Après un clic, le champ garde ce qui a été tapé (pour le corriger) ; sinon 3 Hz est proposé.
$freqValue = ($flash !== null && isset($flash['freq'])) ? (string) $flash['freq'] : '3';
$leds = [];
$led = null;
$state = null;        // [phrase, détail, classe, période]
$problem = null;      // ledd injoignable ou erreur
$version = '';
try {
    $ledd = new Ledd(socket_path());
    [$leds, $default, $problem] = led_list($ledd);
    if ($problem === null) {
        $asked = isset($_GET['led']) && is_string($_GET['led']) ? $_GET['led'] : '';
        $led = in_array($asked, $leds, true) ? $asked : $default;
        $st = $ledd->ask("status $led");
        if ($st->ok) {
            $state = describe($st);
        } else {
            $problem = explain_err($st);
        }
        $v = $ledd->ask('version');
        if ($v->ok) {
            $version = 'ledd ' . $v->get('version') . ', protocole ' . $v->get('protocol');
        }
    }
} catch (LeddUnreachable $e) {
    $problem = $e->getMessage();
}
// Même problème que le clic qui vient d'échouer : ne le dire qu'une fois.
if ($flash !== null && $problem !== null && strpos((string) $flash['text'], $problem) === 0) {
    $problem = null;
}
if ($method === 'HEAD') {
    exit;
}
?>
<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>LED de la classe<?= $led !== null ? ' — ' . h($led) : '' ?></title>
<style>
  :root { color-scheme: light; --vert: #1b7f3b; --rouge: #b3261e; --gris: #5f6368; }
  * { box-sizing: border-box; }
  body { font: 18px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
         margin: 0; background: #eef1f5; color: #1f2328; }
  main { max-width: 34rem; margin: 2rem auto; padding: 1.5rem 1.75rem; background: #fff;
         border-radius: 12px; box-shadow: 0 2px 10px rgba(0,0,0,.08); }
  h1 { font-size: 1.6rem; margin: 0 0 1rem; }
  h2 { font-size: 1.1rem; margin: 0 0 .5rem; color: var(--gris); font-weight: 600; }
  .message { padding: .75rem 1rem; border-radius: 8px; margin: 0 0 1.25rem; border-left: 6px solid; }
  .message.ok { background: #e7f5ec; border-color: var(--vert); }
  .message.err { background: #fdecea; border-color: var(--rouge); }
  .etat { display: flex; gap: 1rem; align-items: center; padding: 1rem; border-radius: 8px;
          background: #f6f8fa; margin-bottom: 1.5rem; }
  .etat p { margin: 0; }
  .etat .detail { color: var(--gris); font-size: .9rem; }
  .led { flex: none; width: 2.25rem; height: 2.25rem; border-radius: 50%; border: 3px solid #c9ced6;
         background: #d5d9df; }
  .led-allumee, .led-clignote { background: #ffb300; border-color: #e08e00; box-shadow: 0 0 14px #ffc933; }
  .led-clignote { animation: clignote var(--periode, .5s) steps(1, end) infinite; }
  .led-absente { background: repeating-linear-gradient(45deg, #eee 0 4px, #ccc 4px 8px); }
  @keyframes clignote { 50% { background: #d5d9df; border-color: #c9ced6; box-shadow: none; } }
  @media (prefers-reduced-motion: reduce) { .led-clignote { animation: none; } }
  label { display: block; font-weight: 600; margin: .75rem 0 .25rem; }
  input, select { font: inherit; padding: .45rem .6rem; border: 2px solid #8c959f; border-radius: 6px;
                  width: 100%; max-width: 14rem; background: #fff; color: inherit; }
  input:focus, select:focus, button:focus { outline: 3px solid #0969da; outline-offset: 2px; }
  .aide { font-size: .9rem; color: var(--gris); margin: .25rem 0 0; }
  .boutons { display: flex; gap: .75rem; margin-top: 1.25rem; flex-wrap: wrap; }
  button { font: inherit; font-weight: 600; padding: .6rem 1.4rem; border-radius: 8px; border: 0;
           cursor: pointer; color: #fff; }
  button[name=clignote] { background: #0969da; }
  button[name=eteindre] { background: #424a53; }
  button[name=identifier] { background: #8250df; }
  footer { margin-top: 1.5rem; font-size: .85rem; color: var(--gris); }
  footer a { color: inherit; }
</style>
</head>
<body>
<main>
  <h1>LED de la classe</h1>
<?php if ($flash !== null): ?>
  <p class="message <?= $flash['kind'] === 'ok' ? 'ok' : 'err' ?>" role="<?= $flash['kind'] === 'ok' ? 'status' : 'alert' ?>"><?= txt((string) $flash['text']) ?></p>
<?php endif; ?>
<?php if ($problem !== null): ?>
  <p class="message err" role="alert"><?= txt($problem) ?></p>
<?php endif; ?>
<?php if ($state !== null && $led !== null): ?>
  <section class="etat" aria-labelledby="titre-etat">
    <span class="led <?= h($state[2]) ?>" id="etat-led" aria-hidden="true"<?= $state[3] !== null ? ' style="--periode: ' . h(sprintf('%.3F', $state[3])) . 's"' : '' ?>></span>
    <div>
      <h2 id="titre-etat">État actuel</h2>
      <p id="etat"><?= txt('La LED « ' . $led . ' » ' . $state[0] . '.') ?></p>
      <p class="detail" id="etat-detail"<?= $state[1] === '' ? ' hidden' : '' ?>><?= txt($state[1]) ?></p>
    </div>
  </section>
<?php endif; ?>
  <form method="post" action="">
<?php if (count($leds) > 1): ?>
    <label for="led">LED</label>
    <select id="led" name="led">
<?php foreach ($leds as $name): ?>
      <option value="<?= h($name) ?>"<?= $name === $led ? ' selected' : '' ?>><?= h($name) ?></option>
<?php endforeach; ?>
    </select>
<?php elseif ($led !== null): ?>
    <input type="hidden" name="led" value="<?= h($led) ?>">
<?php endif; ?>
    <label for="freq">Fréquence (Hz)</label>
    <input type="text" id="freq" name="freq" inputmode="decimal" autocomplete="off" maxlength="20"
           value="<?= h($freqValue) ?>" aria-describedby="freq-aide">
    <p class="aide" id="freq-aide">Entre 0,001 et 500 Hz, par exemple 3 ou 2,5.</p>
    <div class="boutons">
      <button type="submit" name="clignote" value="1">Clignoter</button>
      <button type="submit" name="eteindre" value="1">Eteindre</button>
      <button type="submit" name="identifier" value="1">Identifier</button>
    </div>
  </form>
  <footer>
    <a href="?<?= h(http_build_query($led !== null ? ['led' => $led] : [])) ?>">Actualiser l'état</a>
<?php if ($version !== ''): ?>
    · <?= h($version) ?>
<?php endif; ?>
  </footer>
</main>
<?php if ($state !== null && $led !== null): ?>
<script nonce="<?= h($nonce) ?>">
// L'état en direct : toutes les 2 s (pas quand l'onglet est caché), la page redemande
// l'état à ledd par ?etat=json et met à jour la phrase et le point lumineux, qui clignote
// au rythme que le noyau applique vraiment (fréquence tirée des délais réels).
(() => {
  const phrase = document.getElementById('etat');
  const detail = document.getElementById('etat-detail');
  const led = document.getElementById('etat-led');
  const url = new URL(window.location.href);
  url.search = new URLSearchParams({ etat: 'json', led: <?= json_encode($led) ?> }).toString();
  async function refresh() {
    if (document.hidden) return;
    try {
      const answer = await (await fetch(url, { cache: 'no-store' })).json();
      if (!answer.ok) return;
      phrase.textContent = answer.phrase;
      detail.textContent = answer.detail;
      detail.hidden = answer.detail === '';
      led.className = 'led ' + answer.classe;
      if (answer.periode === null) led.style.removeProperty('--periode');
      else led.style.setProperty('--periode', answer.periode.toFixed(3) + 's');
    } catch (e) {
      // ledd injoignable un instant : l'état affiché reste, le prochain tour réessaie.
    }
  }
  setInterval(refresh, 2000);
})();
</script>
<?php endif; ?>
</body>
</html>
