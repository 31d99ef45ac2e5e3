using System.Text;
using EdgeSelector.Protocol.Resp;

namespace EdgeSelector.Server.Resp;

/// <summary>
/// The commands client libraries send on connect (docs/resp.md, "Connection commands"): CLIENT SETNAME / GETNAME /
/// SETINFO / ID / INFO, SELECT, ECHO, AUTH, QUIT. Answered as a Redis server without a password and with one
/// database answers them, so that a client's handshake completes; the names kept are per connection.
/// </summary>
internal sealed partial class RespSession
{
    private string? _clientName;
    private string? _libName;
    private string? _libVersion;

    // CLIENT SETNAME name | GETNAME | SETINFO LIB-NAME|LIB-VER value | ID | INFO
    private void Client(ReadOnlySpan<byte> command, int argc)
    {
        if (argc < 2)
        {
            RespWriter.WriteError(_output, "ERR wrong number of arguments for 'client' command"u8);
            return;
        }

        switch (RespNames.Subcommand(Arg(command, 1)))
        {
            case RespSubcommand.SetName when argc == 3:
                if (TryClientName(Arg(command, 2), out var name))
                {
                    _clientName = name;
                    RespWriter.WriteSimpleString(_output, "OK"u8);
                }

                return;
            case RespSubcommand.GetName when argc == 2:
                if (_clientName is null)
                {
                    RespWriter.WriteNil(_output);
                }
                else
                {
                    RespWriter.WriteBulkString(_output, Encoding.UTF8.GetBytes(_clientName));
                }

                return;
            case RespSubcommand.SetInfo when argc == 4:
                SetInfo(Arg(command, 2), Arg(command, 3));
                return;
            case RespSubcommand.Id when argc == 2:
                RespWriter.WriteInteger(_output, _clientId);
                return;
            case RespSubcommand.Info when argc == 2:
                // Redis's CLIENT INFO line, the fields this front door knows: id, name, db, lib-name, lib-ver, resp.
                RespWriter.WriteBulkString(_output, Encoding.UTF8.GetBytes(
                    $"id={_clientId} name={_clientName} db=0 lib-name={_libName} lib-ver={_libVersion} resp=2\n"));
                return;
            case RespSubcommand.Unknown:
                WriteUnknownSubcommand(Arg(command, 1), "CLIENT");
                return;
            default:
                RespWriter.WriteError(_output, "ERR wrong number of arguments for 'client' command"u8);
                return;
        }
    }

    // CLIENT SETINFO LIB-NAME name | LIB-VER version: kept for CLIENT INFO; Redis refuses spaces and newlines.
    private void SetInfo(ReadOnlySpan<byte> attribute, ReadOnlySpan<byte> value)
    {
        var isName = Ascii.EqualsIgnoreCase(attribute, "LIB-NAME"u8);
        if (!isName && !Ascii.EqualsIgnoreCase(attribute, "LIB-VER"u8))
        {
            RespWriter.WriteError(_output, "ERR Unrecognized option"u8);
            return;
        }

        if (!TryClientName(value, out var text))
        {
            return;
        }

        if (isName)
        {
            _libName = text;
        }
        else
        {
            _libVersion = text;
        }

        RespWriter.WriteSimpleString(_output, "OK"u8);
    }

    // Printable ASCII without spaces, as Redis requires of client names (an empty name clears it).
    private bool TryClientName(ReadOnlySpan<byte> value, out string? name)
    {
        foreach (var b in value)
        {
            if (b is <= (byte)' ' or >= 127)
            {
                name = null;
                RespWriter.WriteError(_output, "ERR Client names cannot contain spaces, newlines or special characters."u8);
                return false;
            }
        }

        name = value.IsEmpty ? null : Encoding.ASCII.GetString(value);
        return true;
    }

    // SELECT 0 -> +OK; the node has one database (CONFIG GET databases answers 1)
    private void Select(ReadOnlySpan<byte> command, int argc)
    {
        if (argc != 2)
        {
            RespWriter.WriteError(_output, "ERR wrong number of arguments for 'select' command"u8);
        }
        else if (!TryParse(Arg(command, 1), out var db))
        {
            RespWriter.WriteError(_output, "ERR value is not an integer or out of range"u8);
        }
        else if (db != 0)
        {
            RespWriter.WriteError(_output, "ERR DB index is out of range"u8);
        }
        else
        {
            RespWriter.WriteSimpleString(_output, "OK"u8);
        }
    }

    // ECHO message -> the message as a bulk string
    private void Echo(ReadOnlySpan<byte> command, int argc)
    {
        if (argc != 2)
        {
            RespWriter.WriteError(_output, "ERR wrong number of arguments for 'echo' command"u8);
            return;
        }

        RespWriter.WriteBulkString(_output, Arg(command, 1));
    }

    // AUTH [user] password -> Redis's answer when the default user has no password (the node has no RESP auth:
    // docs/security.md; bind the port to a trusted network)
    private void Auth(int argc) => RespWriter.WriteError(_output, argc is 2 or 3
        ? "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"u8
        : "ERR wrong number of arguments for 'auth' command"u8);

    private void WriteUnknownSubcommand(ReadOnlySpan<byte> subcommand, string command)
    {
        var printable = subcommand.Length <= 64 && !subcommand.ContainsAnyExceptInRange((byte)' ', (byte)'~')
            ? Encoding.ASCII.GetString(subcommand)
            : "?";
        RespWriter.WriteError(_output, Encoding.ASCII.GetBytes($"ERR unknown subcommand '{printable}'. Try {command} HELP."));
    }
}
