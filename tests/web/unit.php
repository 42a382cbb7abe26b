<?php
// Unit checks of the page's pure functions (frequency parsing, French wording, reply parsing).
// Run: php tests/web/unit.php   Prints PASS/FAIL lines; exit status 1 on any failure.
declare(strict_types=1);
define('LEDD_WEB_FUNCTIONS_ONLY', true);
require __DIR__ . '/../../examples/web/index.php';

$failed = 0;
function check(string $name, bool $ok, string $why = ''): void
{
    global $failed;
    if (!$ok) {
        $failed++;
    }
    echo ($ok ? 'PASS ' : 'FAIL ') . $name . ($ok || $why === '' ? '' : ": $why") . "\n";
}
// Non-breaking spaces shown as plain ones, to keep the expectations readable.
function plain(string $s): string
{
    return str_replace(["\u{00A0}", "\u{202F}"], ' ', $s);
}

// Accepted frequencies and what is sent to ledd (never the raw input).
$good = ['3' => '3', '2,5' => '2.5', '2.5' => '2.5', ' 4 ' => '4', '3 Hz' => '3', '3hz' => '3',
    '0,001' => '0.001', '0.001' => '0.001', '500' => '500', '500,0' => '500', ',5' => '0.5',
    '007' => '7', '1.' => '1', '1.23456789' => '1.234568'];
foreach ($good as $in => $sent) {
    [$v, $err] = parse_freq((string) $in);
    check("parse_freq accepts '$in' and sends '$sent'", $v === $sent && $err === null, var_export([$v, $err], true));
}
// Refused input, with the French message expected.
$bad = ['' => 'Indiquez une fréquence', '   ' => 'Indiquez une fréquence', 'abc' => "n'est pas un nombre",
    '-1' => 'doit être positive', '-0,5' => 'doit être positive', '0' => 'comprise entre 0,001 et 500 Hz',
    '0,0009' => 'comprise entre', '500.01' => 'comprise entre', '1e3' => "n'est pas un nombre",
    '2;reboot' => "n'est pas un nombre", '$(reboot)' => "n'est pas un nombre", '2 5' => "n'est pas un nombre",
    '1,2,3' => "n'est pas un nombre", '0x10' => "n'est pas un nombre", "2\nreboot" => "n'est pas un nombre",
    'NaN' => "n'est pas un nombre", 'INF' => "n'est pas un nombre", '١' => "n'est pas un nombre",
    str_repeat('9', 30) => "n'est pas un nombre"];
foreach ($bad as $in => $expected) {
    [$v, $err] = parse_freq((string) $in);
    check('parse_freq refuses ' . json_encode((string) $in), $v === null && strpos(plain((string) $err), $expected) !== false,
        var_export([$v, $err], true));
}

$hz = ['2' => '2 Hz', '2.994' => 'environ 3 Hz', '2.5' => '2,5 Hz', '0.333' => '0,333 Hz',
    '0.3333333' => 'environ 0,333 Hz', '166.667' => 'environ 167 Hz', '500' => '500 Hz', '0.001' => '0,001 Hz'];
foreach ($hz as $f => $expected) {
    check("fr_hz($f) = '$expected'", plain(fr_hz((float) $f)) === $expected, plain(fr_hz((float) $f)));
}

$r = Reply::parse('ok led=status mode=blink freq=2.994 duty=50 delay_on=167 delay_off=167');
check('Reply::parse ok fields', $r->ok && $r->get('led') === 'status' && $r->get('delay_off') === '167');
check('describe(blink) in French', plain(describe($r)[0]) === 'clignote à environ 3 Hz', describe($r)[0]);
check('describe(blink) details', describe($r)[1] === 'allumée 167 ms, éteinte 167 ms', describe($r)[1]);
check('describe(off)', describe(Reply::parse('ok led=status mode=off'))[0] === 'est éteinte');
check('describe(on)', describe(Reply::parse('ok led=status mode=on brightness=1 max_brightness=1'))[0] === 'est allumée');
check('describe(absent device)', strpos(describe(Reply::parse('ok led=power device=PWR exists=no mode=unknown'))[0], 'absente') !== false);
$e = Reply::parse('err range: frequency 0 Hz is out of range (0.001 to 500)');
check('Reply::parse err', !$e->ok && $e->kind === 'range' && $e->message === 'frequency 0 Hz is out of range (0.001 to 500)');
check('explain_err in French', explain_err($e) === "ledd a refusé l'ordre (valeur hors limites) : frequency 0 Hz is out of range (0.001 to 500)");
check('garbage reply is an error', !Reply::parse('hello')->ok);
check('h() escapes quotes and tags', h('<a href="x">\'') === '&lt;a href=&quot;x&quot;&gt;&apos;');
check('typo() French spacing', typo('« a » : 3 Hz') === "«\u{00A0}a\u{00A0}»\u{00A0}: 3\u{00A0}Hz");

exit($failed > 0 ? 1 : 0);
