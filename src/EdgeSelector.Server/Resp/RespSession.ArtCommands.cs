using EdgeSelector.Core.Features;
using EdgeSelector.Protocol;
using EdgeSelector.Protocol.Resp;
using EdgeSelector.Server.Serving;

namespace EdgeSelector.Server.Resp;

/// <summary>The artwork commands: GET, ART.SELECT, ART.PAGE (docs/resp.md), answered through the serving session.</summary>
internal sealed partial class RespSession
{
    // GET <member>:<title> -> the image id as a bulk string (nil when no artwork is known)
    private void Get(ReadOnlySpan<byte> command, int argc)
    {
        var key = argc == 2 ? Arg(command, 1) : default;
        var colon = key.IndexOf((byte)':');
        if (colon <= 0 || !TryParse(key[..colon], out var member) || !TryParse(key[(colon + 1)..], out var title) || title > uint.MaxValue)
        {
            RespWriter.WriteError(_output, "ERR key must be <member>:<title>"u8);
            return;
        }

        var context = Context(member);
        var result = _serving.SelectOne(in context, new TitleCandidate((uint)title, 0f, false));
        if (result.ImageId == SelectResult.NoArtwork)
        {
            RespWriter.WriteNil(_output);
        }
        else
        {
            RespWriter.WriteBulkNumber(_output, result.ImageId);
        }
    }

    // ART.SELECT <title> <member> [COUNTRY cc] [LANGUAGE ll] [DEVICE n] [HOUR h] [DOW d] [WITHMETA]
    private void ArtSelect(ReadOnlySpan<byte> command, int argc)
    {
        if (argc < 3 || !TryParse(Arg(command, 1), out var title) || title > uint.MaxValue || !TryParse(Arg(command, 2), out var member))
        {
            RespWriter.WriteError(_output, "ERR usage: ART.SELECT <title> <member> [field value ...] [WITHMETA]"u8);
            return;
        }

        var context = Context(member);
        var withMeta = false;
        for (var i = 3; i < argc; i++)
        {
            var field = RespNames.SelectField(Arg(command, i));
            if (field == RespSelectField.WithMeta)
            {
                withMeta = true;
                continue;
            }

            if (i + 1 >= argc || !TrySetField(ref context, field, Arg(command, ++i)))
            {
                RespWriter.WriteError(_output, "ERR bad field: COUNTRY cc, LANGUAGE ll, DEVICE 0-5, HOUR 0-23, DOW 0-6, WITHMETA"u8);
                return;
            }
        }

        var result = _serving.SelectOne(in context, new TitleCandidate((uint)title, 0f, false));
        if (!withMeta)
        {
            RespWriter.WriteInteger(_output, result.ImageId);
            return;
        }

        // [image, event id, propensity, reason, event tag]
        RespWriter.WriteArrayHeader(_output, 5);
        RespWriter.WriteInteger(_output, result.ImageId);
        RespWriter.WriteBulkNumber(_output, result.EventId);
        RespWriter.WriteBulkFloat(_output, result.Propensity);
        RespWriter.WriteInteger(_output, (long)result.Reason);
        RespWriter.WriteBulkNumber(_output, result.EventTag);
    }

    // ART.PAGE <member> <title> [<title> ...] -> an array of image ids, one per title, in order
    private void ArtPage(ReadOnlySpan<byte> command, int argc)
    {
        var count = argc - 2;
        if (argc < 3 || !TryParse(Arg(command, 1), out var member))
        {
            RespWriter.WriteError(_output, "ERR usage: ART.PAGE <member> <title> [<title> ...]"u8);
            return;
        }

        var titles = _serving.Titles;
        if (count > titles.Length)
        {
            RespWriter.WriteError(_output, "ERR too many titles in the page"u8);
            return;
        }

        for (var i = 0; i < count; i++)
        {
            if (!TryParse(Arg(command, i + 2), out var title) || title > uint.MaxValue)
            {
                RespWriter.WriteError(_output, "ERR title ids are unsigned 32-bit integers"u8);
                return;
            }

            titles[i] = new TitleCandidate((uint)title, 0f, false);
        }

        var context = Context(member);
        var results = _serving.Results.AsSpan(0, count);
        _serving.Select(in context, titles.AsSpan(0, count), results);
        RespWriter.WriteArrayHeader(_output, count);
        foreach (ref readonly var result in results)
        {
            RespWriter.WriteInteger(_output, result.ImageId);
        }
    }

    // Looks over the next whole commands of the input's first segment (at most `limit`, and ServingSession.ProfilesAhead)
    // without consuming them, names the members of GET, ART.SELECT and ART.PAGE (RESP requests carry no genres: each
    // reads its profile), and reads those profiles together. Stops at the first command it cannot read whole from the
    // segment, and after QUIT: the dispatch loop answers those. Returns how many commands it covered (at least 1, so
    // the loop looks again only after it has answered them). The argument offsets are the dispatch's scratch: reused.
    private int ReadProfilesAhead(ReadOnlySpan<byte> data, int limit)
    {
        var max = Math.Min(limit, ServingSession.ProfilesAhead);
        var seen = 0;
        while (seen < max && !data.IsEmpty)
        {
            if (data[0] is (byte)'\r' or (byte)'\n')
            {
                var blank = data.IndexOfAnyExcept("\r\n"u8);
                if (blank < 0)
                {
                    break;
                }

                data = data[blank..];
                continue;
            }

            var status = RespCommandReader.TryRead(data, _starts, _lengths, _maxCommandBytes, out var argc, out var used);
            if (status == RespReadStatus.Empty)
            {
                data = data[used..];
                continue;
            }

            if (status != RespReadStatus.Command)
            {
                break; // an inline command (or the end of what is whole) ends the look-ahead
            }

            var command = data[..used];
            data = data[used..];
            seen++;
            ulong member;
            switch (RespNames.Command(Arg(command, 0)))
            {
                case RespCommand.Get:
                    var key = argc == 2 ? Arg(command, 1) : default;
                    var colon = key.IndexOf((byte)':');
                    if (colon > 0 && TryParse(key[..colon], out member))
                    {
                        _serving.ExpectProfile(member);
                    }

                    break;
                case RespCommand.ArtSelect when argc >= 3 && TryParse(Arg(command, 2), out member):
                    _serving.ExpectProfile(member);
                    break;
                case RespCommand.ArtPage when argc >= 3 && TryParse(Arg(command, 1), out member):
                    _serving.ExpectProfile(member);
                    break;
                case RespCommand.Quit:
                    max = seen; // nothing after QUIT is answered
                    break;
            }
        }

        _serving.ReadProfiles();
        return Math.Max(seen, 1);
    }

    // Country, language and device come from the stored profile unless the command sets them; hour and day from the
    // server's UTC clock (read once per batch).
    private RequestContext Context(ulong member) => new()
    {
        MemberId = member,
        HourOfDay = _hour,
        DayOfWeek = _dayOfWeek,
    };

    private static bool TrySetField(ref RequestContext context, RespSelectField field, ReadOnlySpan<byte> value)
    {
        switch (field)
        {
            case RespSelectField.Country:
            case RespSelectField.Language:
                if (value.Length != 2 || !char.IsAsciiLetter((char)value[0]) || !char.IsAsciiLetter((char)value[1]))
                {
                    return false;
                }

                var packed = (ushort)((char.ToUpperInvariant((char)value[0]) << 8) | char.ToUpperInvariant((char)value[1]));
                if (field == RespSelectField.Country)
                {
                    context.Country = packed;
                }
                else
                {
                    context.Language = packed;
                }

                return true;
            case RespSelectField.Device when TryParse(value, out var device) && device <= 5:
                context.Device = (DeviceClass)device;
                return true;
            case RespSelectField.Hour when TryParse(value, out var hour) && hour <= 23:
                context.HourOfDay = (byte)hour;
                return true;
            case RespSelectField.Dow when TryParse(value, out var day) && day <= 6:
                context.DayOfWeek = (byte)day;
                return true;
            default:
                return false;
        }
    }
}
