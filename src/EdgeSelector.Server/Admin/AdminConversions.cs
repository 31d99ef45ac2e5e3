using EdgeSelector.Core.Features;
using EdgeSelector.Protocol;

namespace EdgeSelector.Server.Admin;

/// <summary>JSON bodies of the admin API to the server's structs, with a clear error for each bad field.</summary>
internal static class AdminConversions
{
    /// <summary>
    /// A body's shape beyond what JSON deserialization checks: arrays present, no null element, the required strings
    /// set. Null when it is whole, else the 400 message naming the field (<c>titles[3]</c>).
    /// </summary>
    public static string? MissingField(SelectRequestDto body) =>
        body.Titles is null ? "titles must be an array of titles"
        : IndexOfNull(body.Titles) is var i and >= 0 ? $"titles[{i}] is null"
        : null;

    /// <inheritdoc cref="MissingField(SelectRequestDto)"/>
    public static string? MissingField(ProfileBatch body) =>
        body.Profiles is null ? "profiles must be an array of profiles"
        : IndexOfNull(body.Profiles) is var i and >= 0 ? $"profiles[{i}] is null"
        : null;

    /// <inheritdoc cref="MissingField(SelectRequestDto)"/>
    public static string? MissingField(RewardBatch body)
    {
        if (body.Rewards is null)
        {
            return "rewards must be an array of rewards";
        }

        for (var i = 0; i < body.Rewards.Count; i++)
        {
            var reward = body.Rewards[i];
            if (reward is null)
            {
                return $"rewards[{i}] is null";
            }

            if (reward.EventId is null)
            {
                return $"rewards[{i}].eventId is missing (a decimal string)";
            }

            if (!ulong.TryParse(reward.EventId, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _))
            {
                return $"rewards[{i}].eventId '{reward.EventId}' is not a decimal unsigned 64-bit number";
            }

            if (!float.IsFinite(reward.MinutesWatched) || !float.IsFinite(reward.FractionCompleted))
            {
                return $"rewards[{i}]: minutesWatched and fractionCompleted must be finite numbers";
            }
        }

        return null;
    }

    private static int IndexOfNull<T>(List<T> items)
        where T : class
    {
        for (var i = 0; i < items.Count; i++)
        {
            if (items[i] is null)
            {
                return i;
            }
        }

        return -1;
    }

    public static bool TryProfile(ProfileDto dto, out ulong memberId, out MemberProfile profile, out string error)
    {
        memberId = dto.MemberId;
        profile = default;
        if (dto.MemberId == 0)
        {
            error = "memberId must be non-zero";
            return false;
        }

        if (!TryCode(dto.Country, "country", out profile.Country, out error)
            || !TryCode(dto.Language, "language", out profile.Language, out error)
            || !TryDevice(dto.Device, out profile.Device, out error)
            || !TryGenres(dto.Genres, ref profile.Genres, out error))
        {
            return false;
        }

        return true;
    }

    public static bool TryContext(SelectRequestDto dto, out RequestContext context, out string error)
    {
        context = new RequestContext { MemberId = dto.MemberId, TimestampUnixMs = dto.TimestampMs };
        if (dto.Hour is < 0 or > 23 || dto.DayOfWeek is < 0 or > 6)
        {
            error = "hour must be 0-23 and dayOfWeek 0-6";
            return false;
        }

        context.HourOfDay = (byte)dto.Hour;
        context.DayOfWeek = (byte)dto.DayOfWeek;
        if (!TryCode(dto.Country, "country", out context.Country, out error)
            || !TryCode(dto.Language, "language", out context.Language, out error)
            || !TryDevice(dto.Device, out context.Device, out error))
        {
            return false;
        }

        if (dto.Genres is not null)
        {
            var genres = default(GenreVector);
            if (!TryGenres(dto.Genres, ref genres, out error))
            {
                return false;
            }

            context.SetGenres(genres);
        }

        return true;
    }

    private static bool TryCode(string? code, string field, out ushort packed, out string error)
    {
        packed = string.IsNullOrEmpty(code) ? (ushort)0 : CountryCode.Pack(code);
        error = packed == 0 && !string.IsNullOrEmpty(code) ? $"{field} '{code}' is not a two-letter code" : string.Empty;
        return error.Length == 0;
    }

    private static bool TryDevice(string? name, out DeviceClass device, out string error)
    {
        error = string.Empty;
        device = DeviceClass.Unknown;
        if (string.IsNullOrEmpty(name))
        {
            return true;
        }

        if (Enum.TryParse(name, ignoreCase: true, out device) && Enum.IsDefined(device))
        {
            return true;
        }

        error = $"device '{name}' is not one of unknown, tv, phone, tablet, web, console";
        return false;
    }

    private static bool TryGenres(Dictionary<string, float>? genres, ref GenreVector vector, out string error)
    {
        error = string.Empty;
        if (genres is null)
        {
            return true;
        }

        foreach (var (name, value) in genres)
        {
            var slot = Genres.IndexOf(name);
            if (slot < 0)
            {
                error = $"unknown genre '{name}' (known: {string.Join(", ", Genres.Names)})";
                return false;
            }

            if (!(value is >= 0f and <= 1f))
            {
                error = $"genre '{name}' affinity {value} is not in [0, 1]";
                return false;
            }

            vector[slot] = value;
        }

        return true;
    }
}
