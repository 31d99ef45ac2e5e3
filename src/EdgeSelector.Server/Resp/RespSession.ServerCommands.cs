using System.Text;
using EdgeSelector.Protocol.Resp;

namespace EdgeSelector.Server.Resp;

/// <summary>The server commands: PING, HELLO, INFO, CONFIG, COMMAND, CLUSTER (docs/resp.md).</summary>
internal sealed partial class RespSession
{
    // name, arity (negative: at least that many), flags, first key, last key, step: COMMAND's Redis 7 entries
    // (docs/resp.md, "Commands"). The key positions of GET make cluster-aware clients route it like a key read.
    private static readonly (string Name, int Arity, string[] Flags, int FirstKey, int LastKey, int Step)[] Commands =
    [
        ("get", 2, ["readonly", "fast"], 1, 1, 1),
        ("art.select", -3, ["readonly"], 0, 0, 0),
        ("art.page", -3, ["readonly"], 0, 0, 0),
        ("ping", -1, ["fast", "stale"], 0, 0, 0),
        ("echo", 2, ["fast", "stale"], 0, 0, 0),
        ("hello", -1, ["noscript", "loading", "stale", "fast", "no_auth"], 0, 0, 0),
        ("client", -2, ["noscript", "loading", "stale"], 0, 0, 0),
        ("select", 2, ["loading", "stale", "fast"], 0, 0, 0),
        ("auth", -2, ["noscript", "loading", "stale", "fast", "no_auth"], 0, 0, 0),
        ("info", -1, ["loading", "stale"], 0, 0, 0),
        ("config", -2, ["admin", "noscript", "loading", "stale"], 0, 0, 0),
        ("command", -1, ["loading", "stale"], 0, 0, 0),
        ("cluster", -2, [], 0, 0, 0),
        ("quit", -1, ["noscript", "loading", "stale", "fast", "no_auth"], 0, 0, 0),
    ];

    // PING [message] -> +PONG, or the message as a bulk string
    private void Ping(ReadOnlySpan<byte> command, int argc)
    {
        if (argc > 1)
        {
            RespWriter.WriteBulkString(_output, Arg(command, 1));
        }
        else
        {
            RespWriter.WriteSimpleString(_output, "PONG"u8);
        }
    }

    // HELLO [protover [AUTH username password] [SETNAME clientname]] -> the server map as a flat array (RESP2 has no
    // map type); protover 3 -> -NOPROTO (the client stays on RESP2). AUTH is accepted as Redis accepts it for a default
    // user without a password.
    private void Hello(ReadOnlySpan<byte> command, int argc)
    {
        string? name = _clientName;
        if (argc > 1)
        {
            if (!TryParse(Arg(command, 1), out var version) || version > int.MaxValue)
            {
                RespWriter.WriteError(_output, "ERR Protocol version is not an integer or out of range"u8);
                return;
            }

            if (version != 2)
            {
                RespWriter.WriteError(_output, "NOPROTO unsupported protocol version"u8);
                return;
            }

            for (var i = 2; i < argc; i++)
            {
                if (Ascii.EqualsIgnoreCase(Arg(command, i), "AUTH"u8) && i + 2 < argc)
                {
                    i += 2;
                }
                else if (Ascii.EqualsIgnoreCase(Arg(command, i), "SETNAME"u8) && i + 1 < argc)
                {
                    if (!TryClientName(Arg(command, ++i), out name))
                    {
                        return;
                    }
                }
                else
                {
                    var option = Arg(command, i);
                    var printable = option.Length <= 64 && !option.ContainsAnyExceptInRange((byte)' ', (byte)'~') ? Encoding.ASCII.GetString(option) : "?";
                    RespWriter.WriteError(_output, Encoding.ASCII.GetBytes($"ERR Syntax error in HELLO option '{printable}'"));
                    return;
                }
            }
        }

        _clientName = name;
        RespWriter.WriteArrayHeader(_output, 14);
        RespWriter.WriteBulkString(_output, "server"u8);
        RespWriter.WriteBulkString(_output, "edgeselector"u8);
        RespWriter.WriteBulkString(_output, "version"u8);
        RespWriter.WriteBulkString(_output, Encoding.ASCII.GetBytes(RespServerInfo.RedisVersion));
        RespWriter.WriteBulkString(_output, "proto"u8);
        RespWriter.WriteInteger(_output, 2);
        RespWriter.WriteBulkString(_output, "id"u8);
        RespWriter.WriteInteger(_output, _clientId);
        RespWriter.WriteBulkString(_output, "mode"u8);
        RespWriter.WriteBulkString(_output, "standalone"u8);
        RespWriter.WriteBulkString(_output, "role"u8);
        RespWriter.WriteBulkString(_output, "master"u8);
        RespWriter.WriteBulkString(_output, "modules"u8);
        RespWriter.WriteArrayHeader(_output, 0);
    }

    // INFO [section ...] -> the sections as one bulk string (RespServerInfo)
    private void Info(ReadOnlySpan<byte> command, int argc)
    {
        var sections = new string[argc - 1];
        for (var i = 1; i < argc; i++)
        {
            sections[i - 1] = Encoding.ASCII.GetString(Arg(command, i));
        }

        RespWriter.WriteBulkString(_output, Encoding.UTF8.GetBytes(_info.Render(sections)));
    }

    // CONFIG GET pattern [pattern ...] -> name/value pairs of the few parameters a client asks about; CONFIG SET and
    // RESETSTAT are refused: the node is configured with EdgeSelector:* keys (docs/operations.md).
    private void Config(ReadOnlySpan<byte> command, int argc)
    {
        var sub = argc > 1 ? RespNames.Subcommand(Arg(command, 1)) : RespSubcommand.Unknown;
        switch (sub)
        {
            case RespSubcommand.Get when argc > 2:
                (string Name, string Value)[] parameters =
                [
                    ("databases", "1"),
                    ("maxclients", _info.MaxClients.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                    ("timeout", _info.IdleTimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                ];
                var matched = new List<(string Name, string Value)>();
                for (var i = 2; i < argc; i++)
                {
                    var pattern = Encoding.ASCII.GetString(Arg(command, i));
                    matched.AddRange(parameters.Where(p => Glob(pattern, p.Name) && !matched.Contains(p)));
                }

                RespWriter.WriteArrayHeader(_output, 2 * matched.Count);
                foreach (var (name, value) in matched)
                {
                    RespWriter.WriteBulkString(_output, Encoding.ASCII.GetBytes(name));
                    RespWriter.WriteBulkString(_output, Encoding.ASCII.GetBytes(value));
                }

                return;
            case RespSubcommand.Set or RespSubcommand.ResetStat:
                RespWriter.WriteError(_output, "ERR not supported: the node is configured with EdgeSelector:* keys at start (docs/operations.md)"u8);
                return;
            case RespSubcommand.Help:
                WriteLines(["CONFIG <subcommand> [<arg> ...]. Subcommands are:", "GET <pattern> [<pattern> ...]", "    Return parameters matching the glob-like <pattern>: databases, maxclients, timeout."]);
                return;
            case RespSubcommand.Unknown when argc > 1:
                WriteUnknownSubcommand(Arg(command, 1), "CONFIG");
                return;
            default:
                RespWriter.WriteError(_output, "ERR wrong number of arguments for 'config' command"u8);
                return;
        }
    }

    // COMMAND [COUNT | LIST | INFO name... | DOCS [name...]] -> the commands of docs/resp.md in Redis 7's shapes;
    // DOCS answers an empty map (redis-cli then shows no hints).
    private void Command(ReadOnlySpan<byte> command, int argc)
    {
        var sub = argc > 1 ? RespNames.Subcommand(Arg(command, 1)) : RespSubcommand.Info;
        switch (sub)
        {
            case RespSubcommand.Info when argc <= 2:
                RespWriter.WriteArrayHeader(_output, Commands.Length);
                foreach (var entry in Commands)
                {
                    WriteCommandEntry(entry);
                }

                return;
            case RespSubcommand.Info:
                RespWriter.WriteArrayHeader(_output, argc - 2);
                for (var i = 2; i < argc; i++)
                {
                    var index = CommandIndex(Arg(command, i));
                    if (index < 0)
                    {
                        RespWriter.WriteNil(_output);
                    }
                    else
                    {
                        WriteCommandEntry(Commands[index]);
                    }
                }

                return;
            case RespSubcommand.Count when argc == 2:
                RespWriter.WriteInteger(_output, Commands.Length);
                return;
            case RespSubcommand.List when argc == 2:
                RespWriter.WriteArrayHeader(_output, Commands.Length);
                foreach (var entry in Commands)
                {
                    RespWriter.WriteBulkString(_output, Encoding.ASCII.GetBytes(entry.Name));
                }

                return;
            case RespSubcommand.Docs:
                RespWriter.WriteArrayHeader(_output, 0);
                return;
            case RespSubcommand.Help:
                WriteLines(["COMMAND <subcommand> [<arg> ...]. Subcommands are:", "(no subcommand)", "COUNT", "LIST", "INFO [<command-name> ...]", "DOCS [<command-name> ...]"]);
                return;
            case RespSubcommand.Unknown:
                WriteUnknownSubcommand(Arg(command, 1), "COMMAND");
                return;
            default:
                RespWriter.WriteError(_output, "ERR wrong number of arguments for 'command' command"u8);
                return;
        }
    }

    // CLUSTER ... -> what a Redis server without cluster mode answers (clients then treat the node as standalone)
    private void Cluster() => RespWriter.WriteError(_output, "ERR This instance has cluster support disabled"u8);

    private static int CommandIndex(ReadOnlySpan<byte> name)
    {
        for (var i = 0; i < Commands.Length; i++)
        {
            if (Ascii.EqualsIgnoreCase(name, Commands[i].Name))
            {
                return i;
            }
        }

        return -1;
    }

    private void WriteCommandEntry((string Name, int Arity, string[] Flags, int FirstKey, int LastKey, int Step) entry)
    {
        RespWriter.WriteArrayHeader(_output, 10);
        RespWriter.WriteBulkString(_output, Encoding.ASCII.GetBytes(entry.Name));
        RespWriter.WriteInteger(_output, entry.Arity);
        RespWriter.WriteArrayHeader(_output, entry.Flags.Length);
        foreach (var flag in entry.Flags)
        {
            RespWriter.WriteSimpleString(_output, Encoding.ASCII.GetBytes(flag));
        }

        RespWriter.WriteInteger(_output, entry.FirstKey);
        RespWriter.WriteInteger(_output, entry.LastKey);
        RespWriter.WriteInteger(_output, entry.Step);
        for (var i = 0; i < 4; i++)
        {
            RespWriter.WriteArrayHeader(_output, 0); // ACL categories, tips, key specifications, subcommands
        }
    }

    private void WriteLines(string[] lines)
    {
        RespWriter.WriteArrayHeader(_output, lines.Length);
        foreach (var line in lines)
        {
            RespWriter.WriteSimpleString(_output, Encoding.ASCII.GetBytes(line));
        }
    }

    // Redis's glob for CONFIG GET, the subset clients use: '*' and '?', case-insensitive. Iterative, backtracking only
    // to the last '*': O(pattern x name) whatever the pattern (it comes from the client).
    private static bool Glob(string pattern, string name)
    {
        int p = 0, n = 0, star = -1, resume = 0;
        while (n < name.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || char.ToLowerInvariant(pattern[p]) == name[n]))
            {
                p++;
                n++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                resume = n;
            }
            else if (star >= 0)
            {
                p = star + 1;
                n = ++resume;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }
}
