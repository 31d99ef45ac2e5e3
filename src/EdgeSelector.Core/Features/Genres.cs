namespace EdgeSelector.Core.Features;

/// <summary>The genres of feature schema 1, in slot order; image theme tags with these names match the genre slot.</summary>
public static class Genres
{
    /// <summary>Genre names, index = slot in <see cref="MemberProfile.Genres"/>.</summary>
    public static readonly string[] Names =
    [
        "action", "adventure", "animation", "comedy", "crime", "documentary", "drama", "family",
        "fantasy", "horror", "kids", "music", "mystery", "romance", "scifi", "thriller",
    ];

    /// <summary>The slot of a genre name (case-insensitive), or -1.</summary>
    public static int IndexOf(string name) =>
        Array.FindIndex(Names, n => string.Equals(n, name, StringComparison.OrdinalIgnoreCase));
}
