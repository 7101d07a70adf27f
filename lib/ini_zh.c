/*
 * ini_zh: the Chinese form of every configuration problem (see ini.h,
 * ini_translate()), for the installer on site: what is wrong and what to do.
 *
 * The main design choice: translation of the finished English line, by a
 * table of patterns, rather than a second format string at every call.  The
 * reasons come from many places (lib/ini, lib/parse's parsers through an
 * error buffer, the gateway's cross-checks, the file checks), and most
 * reach ini_error() as "%s" already; a pattern table catches them all in
 * one place, keeps the callers untouched, and keeps the English (the
 * contract of the tests and the log) the one source.  A pattern is the
 * English reason with `*` for each variable part; its template is the
 * Chinese text, where %1..%9 insert a part as it is (a file name, a key, a
 * value) and %t1..%t9 insert the part translated in turn (an errno text, a
 * nested reason, a consequence).  The first pattern that matches the whole
 * reason wins, so the specific ones come before the general ones.  A reason
 * that no pattern matches stays English (tests/unit/test_ini.c holds every
 * message the tree can produce against this table).
 *
 * Pure; any thread.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ini.h"
#include "textbuf.h"

#define PARTS_MAX 9
#define MATCH_STEPS 200000 /* per pattern: a line built to make '*' backtrack gives up */

struct zh {
    const char *en, *zh;
};

#define GBK "文件可能是用 GBK 编码保存的（记事本、WPS 的“ANSI”），请将文件另存为 UTF-8 编码"
#define NOT_UTF8 " (is the file saved as GBK? it must be UTF-8)"

/* clang-format off */
static const struct zh table[] = {
    /* ---- consequences the file checks and lenient sections append ---- */
    {"*; no MQTT uplink until it is fixed (alarm gateway/uplink)",
     "%t1；改好之前网关不能上传到 MQTT 服务器（报警 gateway/uplink），本地采集和报警照常"},
    {"*; nothing goes to InfluxDB until it is fixed (alarm gateway/influx)",
     "%t1；改好之前数据不写入 InfluxDB（报警 gateway/influx）"},
    {"*; alarms are kept in memory only, not durable (alarm gateway/disk)",
     "%t1；改好之前报警只保存在内存中，断电会丢失（报警 gateway/disk）"},
    {"*; the bus retries until it can open it",
     "%t1；总线会一直重试，直到能打开它"},
    {"no MQTT uplink until it is fixed (alarm gateway/uplink)",
     "改好之前网关不能上传到 MQTT 服务器（报警 gateway/uplink），本地采集和报警照常"},
    {"nothing goes to InfluxDB until it is fixed (alarm gateway/influx)",
     "改好之前数据不写入 InfluxDB（报警 gateway/influx）"},

    /* ---- the encoding: the most common problem of a file edited on Windows ---- */
    {"key is not valid UTF-8" NOT_UTF8, "键名不是有效的 UTF-8 文本：" GBK},
    {"comment is not valid UTF-8" NOT_UTF8, "注释不是有效的 UTF-8 文本：" GBK},
    {"not valid UTF-8 text" NOT_UTF8, "值不是有效的 UTF-8 文本：" GBK},
    {"section header is not valid UTF-8" NOT_UTF8, "节标题不是有效的 UTF-8 文本：" GBK},
    {"not valid UTF-8 text", "不是有效的 UTF-8 文本：" GBK},
    {"the file is UTF-16: it must be UTF-8", "文件是 UTF-16 编码：请将文件另存为 UTF-8 编码"},
    {"NUL byte in line", "这一行含有 NUL 字节：文件可能已损坏，或不是文本文件"},

    /* ---- the file as a whole ---- */
    {"cannot open: *", "无法打开配置文件：%t1。请检查 -c 指定的路径，以及当前用户能否读取该文件"},
    {"read error after line *: *", "读到第 %1 行之后出错：%t2"},
    {"syntax error", "语法错误：请对照示例 gateway.conf 检查这一行"},
    {"parsing stopped early", "解析提前中止：请检查这一行之前的格式"},
    {"out of memory", "内存不足"},
    {"no sensor: at least one [sensor NAME] section is required",
     "没有传感器：至少需要一个 [sensor 名称] 节"},
    {"no bus: at least one [bus NAME] section is required",
     "没有总线：至少需要一个 [bus 名称] 节（每个 RS-485 口或 Modbus TCP 地址一个）"},
    {"no *: at least one [* NAME] section is required", "没有 %1：至少需要一个 [%2 名称] 节"},
    {"required section missing", "缺少这个必需的节：请按示例 gateway.conf 加上"},

    /* ---- lines and sections ---- */
    {"section header without ']'", "节标题缺少 ']'：应写成 [类型] 或 [类型 名称]"},
    {"unexpected text after ']'", "']' 之后还有文字：请删去（注释请另起一行，以 ; 开头）"},
    {"unknown section (expected *)", "未知的节（应为 %1 之一）：请检查拼写"},
    {"needs a name: [* NAME]", "这个节需要名称：应写成 [%1 名称]"},
    {"takes no name: [*]", "这个节不带名称：应写成 [%1]"},
    {"name '*' is not topic-safe (use only A-Z a-z 0-9 _ -, at most * bytes)",
     "名称 '%1' 不能用作 MQTT 主题：只能用字母 A-Z a-z、数字 0-9、下划线 _ 和连字符 -，"
     "最多 %2 字节（中文名称请写在 name 或 location 里）"},
    {"name too long (at most * bytes)", "名称太长（最多 %1 字节）"},
    {"name too long", "名称太长"},
    {"duplicate section (first at line *)", "重复的节（第一次出现在第 %1 行）：请合并两处，或改用不同的名称"},
    {"the name 'gateway' is reserved for the gateway's own alarms",
     "名称 gateway 留给网关自身的报警使用：请给这个传感器换一个名称"},
    {"expected `key = value`", "应为“键 = 值”的形式：请检查这一行（注释以 ; 或 # 开头）"},
    {"missing key before '='", "'=' 前面缺少键名"},
    {"key outside any section", "这一项不在任何节之内：请把它移到相应的 [节] 之下"},
    {"line too long (at most * bytes)", "这一行太长（最多 %1 字节）：请缩短"},

    /* ---- keys ---- */
    {"unknown key (or an alarm key of a sensor without a valid kind)",
     "未知的键（或该传感器的 kind 无效，报警参数无法对应）：请检查拼写和 kind"},
    {"unknown key", "未知的键：请检查拼写（各个键的说明见 shelter-gateway.conf(5) 和示例 gateway.conf）"},
    {"duplicate key (first at line *)", "重复的键（第一次出现在第 %1 行）：请删去其中一行"},
    {"empty value", "值为空：请填写，或删去这一行以使用默认值"},
    {"missing (required)", "缺少这个必填项：请在这个节中加上"},
    {"missing (required on a * bus)", "缺少这个必填项（%1 总线必须有）"},
    {"missing (required for type bits)", "缺少这个必填项（type = bits 时必须有）"},
    {"missing (required for * on model *)", "缺少这个必填项（%1 在型号 %2 上必须有）"},
    {"missing (required for *)", "缺少这个必填项（%1 必须有）"},
    {"missing (InfluxDB 2 needs org, bucket and token_file)",
     "缺少这个必填项（InfluxDB 2 需要 org、bucket 和 token_file）"},
    {"not a key of a * bus",
     "不是 %1 总线的键（rtu 总线用 device、baud、parity、data_bits、stop_bits，tcp 总线用 host、port）"},
    {"not a key of kind *", "不是 %1 类传感器的键：请检查 kind，或删去这一行"},
    {"not a key of model * (it has no inputs)", "不是型号 %1 的键（它没有开关量输入通道）"},
    {"default '*...' is too long", "默认值 '%1...' 太长"},

    /* ---- values (lib/parse, lib/ini's parsers) ---- */
    {"* is out of range (*..*)", "%1 超出范围（%2..%3）：请填写这个范围内的值"},
    {"'*' is not an integer", "'%1' 不是整数"},
    {"'*' is not a hex number", "'%1' 不是十六进制数"},
    {"'*' is not a number", "'%1' 不是数字"},
    {"'*' is not a duration (a whole number with a unit: *)",
     "'%1' 不是有效的时长：应为整数加单位（%2），例如 500ms、2s、10min"},
    {"'*' is not a size (a whole number with a unit: *)",
     "'%1' 不是有效的大小：应为整数加单位（%2），例如 64MB"},
    {"'*' is not a * (a whole number with a unit: *)", "'%1' 格式不对：应为整数加单位（%3）"},
    {"'*' needs a unit (*)", "'%1' 缺少单位（%2）：例如 2s、10min"},
    {"'*': unknown unit '*' (use *)", "'%1'：未知的单位 '%2'（请用 %3）"},
    {"* is not a whole number of seconds", "%1 不是整秒数：请写成整秒，例如 30s、5min"},
    {"'*' is not yes or no", "'%1' 不是 yes 或 no"},
    {"'*' is not one of: *", "'%1' 不是可选的值：只能是 %2 之一"},
    {"'*' is not a rate (COUNT/PERIOD, e.g. 20/min)", "'%1' 不是有效的频率：应写成 次数/时间，例如 20/min"},
    {"'*': count *", "'%1'：次数 %t2"},
    {"'*': period *", "'%1'：时间 %t2"},
    {"too long (at most * bytes)", "太长（最多 %1 字节）：请缩短"},
    {"'*' is not topic-safe (use only A-Z a-z 0-9 _ -)",
     "'%1' 不能用作 MQTT 主题：只能用字母 A-Z a-z、数字 0-9、下划线 _ 和连字符 -"
     "（中文名称请写在 name 或 location 里）"},
    {"'*' is not topic-safe (levels of A-Z a-z 0-9 _ - separated by '/')",
     "'%1' 不能用作 MQTT 主题：每一级只能用 A-Z a-z 0-9 _ -，级与级之间用 / 分隔"},
    {"'*' is not a host name or address", "'%1' 不是主机名或 IP 地址"},
    {"'*' is not an http:// or https:// URL", "'%1' 不是以 http:// 或 https:// 开头的网址"},

    /* ---- the gateway's own checks (gateway/cfg.c) ---- */
    {"* is not a supported baud rate (*)",
     "不支持波特率 %1（可选：%2）：请按设备说明书或设备上的设置填写，常见为 9600"},
    {"unknown kind '*' (one of: *)", "未知的传感器类型 '%1'（可选：%2）"},
    {"unknown bus '*'", "未知的总线 '%1'：请检查拼写，或先定义 [bus %1]"},
    {"unknown model '*' (known: *)",
     "未知的设备型号 '%1'（已有：%2）：型号文件在 models_dir（默认 share/shelter-gateway/models）"},
    {"model * does not support kind * (it supports: *)", "型号 %1 不支持 %2 类传感器（它支持：%3）"},
    {"* is out of range on * bus * (0..247 or 255)",
     "站号 %1 超出 %2 总线 %3 的范围（0..247 或 255）：请检查设备的站号（Modbus 地址）"},
    {"* is out of range on * bus * (*)",
     "站号 %1 超出 %2 总线 %3 的范围（%4）：请检查设备的站号（Modbus 地址）"},
    {"unit * on bus * is already sensor * (line *) of model *",
     "总线 %2 上的站号 %1 已是型号 %5 的传感器 %3（第 %4 行）：同一站号只能是一台设备，"
     "请先在设备上改好站号再填写"},
    {"unit * on bus * is already used by sensor * (line *)",
     "总线 %2 上的站号 %1 已被传感器 %3 使用（第 %4 行）：同一条总线上每台设备须有自己的站号，"
     "请先在设备上改好站号再填写"},
    {"channel * of unit * on bus * is already used by sensor * (line *)",
     "总线 %3 站号 %2 的通道 %1 已被传感器 %4 使用（第 %5 行）：请检查接线和通道号"},
    {"channel * out of range: model * has inputs 0..*", "通道 %1 超出范围：型号 %2 的输入通道为 0..%3"},
    {"channel * is already *", "通道 %1 已用作 %2"},
    {"channel * is not an input of this sensor", "通道 %1 不是这个传感器的输入通道"},
    {"channel * listed twice", "通道 %1 重复列出"},
    {"cannot load device models from * (the default)",
     "无法从 %1（默认位置）加载设备型号：请用 models_dir 指明型号文件所在的目录"},
    {"cannot load device models from *", "无法从 %1 加载设备型号：请检查 models_dir"},

    /* ---- [mqtt] and [influx] (lib/mqttcfg.c, lib/influxcfg.c) ---- */
    {"needs key_file as well", "还需要同时填写 key_file"},
    {"needs cert_file as well", "还需要同时填写 cert_file"},
    {"needs username", "还需要填写 username"},
    {"tcp:// and ssl:// mixed (failing over would drop TLS)",
     "tcp:// 和 ssl:// 混用（切换到备用服务器时会失去加密）：请统一使用 ssl://"},
    {"needs ssl:// URIs", "需要 ssl:// 地址"},
    {"'*' must start with tcp:// or ssl://", "'%1' 必须以 tcp:// 或 ssl:// 开头"},
    {"'*': a broker URI has no path", "'%1'：服务器地址不带路径"},
    {"'*': bad [IPv6] address", "'%1'：[IPv6] 地址写法不对"},
    {"'*' has no host", "'%1' 缺少主机名"},
    {"'*': port *", "'%1'：端口 %t2"},
    {"a URI is too long (at most * bytes)", "地址太长（最多 %1 字节）"},
    {"too many URIs (at most *)", "地址太多（最多 %1 个）"},
    {"no URI given", "没有填写服务器地址"},
    {"database (InfluxDB 1) and org/bucket/token_file (InfluxDB 2) exclude each other",
     "database（InfluxDB 1）与 org/bucket/token_file（InfluxDB 2）只能二选一"},
    {"needs database (InfluxDB 1) or org, bucket and token_file (InfluxDB 2)",
     "需要 database（InfluxDB 1），或 org、bucket 和 token_file（InfluxDB 2）"},

    /* ---- device model files (sensors/model.c) ---- */
    {"'*' differs from the file name '*'", "'%1' 与文件名 '%2' 不一致"},
    {"* exceeds the * limit of * * per read", "%1 超过 %2 每次读取 %3 个%4 的上限"},
    {"span 0x* + * runs past address 0xFFFF", "范围 0x%1 + %2 超出地址 0xFFFF"},
    {"no [point NAME] section", "没有 [point 名称] 节"},
    {"* cannot be read with *", "%1 不能用 %2 读取"},
    {"needs units = CODE:FACTOR, ...", "还需要 units = 代码:系数, ..."},
    {"needs unit_register", "还需要 unit_register"},
    {"* does not fit a 16-bit register", "%1 超出 16 位寄存器的范围"},
    {"0x*..0x* outside the read span 0x*..0x*", "0x%1..0x%2 不在读取范围 0x%3..0x%4 之内"},
    {"0x* outside the read span 0x*..0x*", "0x%1 不在读取范围 0x%2..0x%3 之内"},
    {"file name is not a model name ([a-z0-9_.-], 1..* characters)",
     "文件名不是有效的型号名（[a-z0-9_.-]，1..%1 个字符）"},
    {"no ** files", "没有 %1%2 文件"},

    /* ---- files the configuration names (gateway/filecheck.c) ---- */
    {"*: does not exist yet (the systemd unit creates it when the service starts)",
     "%1：目录还不存在（systemd 服务启动时会自动创建）"},
    {"*: cannot write in it: *", "%1：无法在其中写入：%t2"},
    {"*: the service user * cannot * it: the file * is owner *, group *, mode *",
     "%1：服务用户 %2 无法%t3这个文件：%4 的属主 %5、属组 %6、权限 %7。"
     "请用 chown root:shelter-gateway 和 chmod 0640 改正"},
    {"*: the service user * cannot * it: directory * is owner *, group *, mode *",
     "%1：服务用户 %2 无法%t3它：目录 %4 的属主 %5、属组 %6、权限 %7，服务用户无法进入。"
     "请放宽该目录的权限（例如 chmod o+x）"},
    {"*: the service user * cannot search /", "%1：服务用户 %2 无法访问根目录 /"},
    {"*: a secret that every user of this machine can * (mode *): make it root:shelter-gateway 0640",
     "%1：这是密钥文件，本机所有用户都能%t2（权限 %3）：请执行 chown root:shelter-gateway 和 chmod 0640"},
    {"*: certificate * expired on *", "%1：证书 %2 已于 %3 过期：请更换证书"},
    {"*: certificate * is not valid before * (is the clock right?)",
     "%1：证书 %2 在 %3 之前无效（请检查本机时间是否正确）"},
    {"*: no PEM certificate in it", "%1：其中没有 PEM 格式的证书"},
    {"*: no PEM private key in it", "%1：其中没有 PEM 格式的私钥"},
    {"*: the private key is encrypted (the gateway has no passphrase for it)",
     "%1：私钥已加密（网关没有它的口令）：请导出不加密的私钥"},
    {"*: the key does not belong to cert_file *", "%1：这个私钥与 cert_file %2 不配对"},
    {"*: not a regular file", "%1：不是普通文件"},
    {"*: not a directory", "%1：不是目录"},
    {"*: not a character device", "%1：不是字符设备（串口）"},
    {"*: not of the right type", "%1：文件类型不对"},
    {"*: No such file or directory", "%1：不存在：请创建它，或改正路径"},
    {"*: Permission denied", "%1：没有权限：请检查文件和目录的属主与权限"},
    {"*: Not a directory", "%1：路径中的某一级不是目录"},
    {"*: Read-only file system", "%1：文件系统是只读的"},
    {"*: No space left on device", "%1：磁盘已满"},

    /* ---- words inside other messages (%t) ---- */
    {"No such file or directory", "文件或目录不存在"},
    {"Permission denied", "没有权限"},
    {"Not a directory", "路径中的某一级不是目录"},
    {"Is a directory", "这是一个目录，不是文件"},
    {"Read-only file system", "文件系统是只读的"},
    {"No space left on device", "磁盘已满"},
    {"Invalid or incomplete multibyte or wide character", "含有无效的多字节字符"},
    {"read", "读取"},
    {"write", "写入"},
    {"search", "进入"},
    {"open", "打开"},
};
/* clang-format on */

#define NTABLE (sizeof(table) / sizeof(table[0]))

/* Does s match pattern p whole?  Each '*' takes the shortest part that lets
 * the rest match; the parts go to part[] (pointer and length).  *steps
 * bounds the work (backtracking is exponential in the stars on a line
 * that repeats a pattern's words): at 0 it gives up, no match. */
static bool match(const char *p, const char *s, const char **part, size_t *plen, int *nparts,
                  long *steps)
{
    for (; *p != '\0'; p++, s++) {
        if (--*steps < 0)
            return false;
        if (*p == '*') {
            int k = (*nparts)++;
            if (k >= PARTS_MAX)
                return false;
            for (const char *end = s;; end++) {
                int saved = *nparts;
                if (match(p + 1, end, part, plen, nparts, steps)) {
                    part[k] = s;
                    plen[k] = (size_t)(end - s);
                    return true;
                }
                *nparts = saved;
                if (*end == '\0')
                    break;
            }
            (*nparts)--;
            return false;
        }
        if (*s != *p)
            return false;
    }
    return *s == '\0';
}

static int translate(const char *reason, size_t len, struct textbuf *b, int depth);

/* The template t with the parts put in. */
static void fill(const char *t, const char **part, const size_t *plen, int nparts,
                 struct textbuf *b, int depth)
{
    for (; *t != '\0'; t++) {
        bool tr = t[0] == '%' && t[1] == 't' && t[2] >= '1' && t[2] <= '9';
        bool raw = t[0] == '%' && t[1] >= '1' && t[1] <= '9';
        if (!tr && !raw) {
            tb_put(b, "%c", *t);
            continue;
        }
        int k = (tr ? t[2] : t[1]) - '1';
        t += tr ? 2 : 1;
        if (k >= nparts)
            continue;
        if (!tr || translate(part[k], plen[k], b, depth + 1) == -1)
            tb_put(b, "%.*s", (int)plen[k], part[k]);
    }
}

/* Translate reason[0..len) into b: 0, or -1 (nothing written) when no
 * pattern matches. */
static int translate(const char *reason, size_t len, struct textbuf *b, int depth)
{
    char copy[1024];
    const char *part[PARTS_MAX];
    size_t plen[PARTS_MAX];

    if (depth > 3 || len >= sizeof(copy))
        return -1;
    memcpy(copy, reason, len);
    copy[len] = '\0';
    for (size_t i = 0; i < NTABLE; i++) {
        int nparts = 0;
        long steps = MATCH_STEPS;
        if (match(table[i].en, copy, part, plen, &nparts, &steps)) {
            /* the parts point into copy, which outlives fill() */
            fill(table[i].zh, part, plen, nparts, b, depth);
            return 0;
        }
    }
    return -1;
}

/* Where the reason starts in "PATH:LINE: [section] key: reason" (each part
 * but the reason optional). */
static const char *reason_of(const char *line, const char *path)
{
    const char *p = line;
    size_t plen = path != NULL ? strlen(path) : 0;

    if (plen > 0 && strncmp(p, path, plen) == 0 && p[plen] == ':') {
        p += plen + 1;
        const char *d = p;
        while (*d >= '0' && *d <= '9')
            d++;
        if (d > p && *d == ':')
            p = d + 1;
        if (*p == ' ')
            p++;
    }
    if (*p == '[') {
        const char *close = strchr(p, ']');
        if (close == NULL)
            return p;
        if (close[1] == ':' && close[2] == ' ')
            return close + 3;
        if (close[1] == ' ') {
            const char *colon = strstr(close + 2, ": ");
            const char *blank = strchr(close + 2, ' ');
            if (colon != NULL && (blank == NULL || blank >= colon))
                return colon + 2; /* "[section] key: " (a key has no blank) */
        }
        if (close[1] == ' ')
            return close + 2; /* "[section] unusable: ..." */
    }
    return p;
}

int ini_translate(const char *line, const char *path, enum gw_lang lang, char *out, size_t len)
{
    struct textbuf b = {out, len, 0};
    const char *reason;

    if (out == NULL || len == 0)
        return -1;
    out[0] = '\0';
    if (lang == LANG_EN) {
        tb_put(&b, "%s", line);
        return tb_finish(&b);
    }
    reason = reason_of(line, path);
    tb_put(&b, "%.*s", (int)(reason - line), line);
    if (translate(reason, strlen(reason), &b, 0) == -1) {
        tb_put(&b, "%s", reason);
        tb_finish(&b);
        return -1;
    }
    return tb_finish(&b);
}
