# build-layout.pl - the mmdb record layout shared by geo/build-world and geo/build-testdb.
#
# Both builders write records in the GeoIP2 City/Country field layout, so the daemon reads
# MaxMind, DB-IP and our own databases with one lookup path. This file is the only place that
# layout is defined: the shape of a record, the mmdb type of every map key, and the tree
# settings. It does not read any input format and does not decide what goes into a record;
# the two builders do that.
#
# A record built here has at most these fields (absent ones are left out, never empty):
#   country.iso_code        utf8_string  ISO 3166-1 alpha-2 code
#   country.names.en        utf8_string  English short name
#   continent.code          utf8_string  AF AN AS EU NA OC SA
#   location.latitude       double       degrees, north positive
#   location.longitude      double       degrees, east positive
#   subdivisions[0].iso_code utf8_string ISO 3166-2 code without the country prefix
#
# Test databases may also be written in ip-location-db's flat layout (its mmdb packages of
# DB-IP, GeoLite2 and other data, which gslbd --geoip reads too): every field at the top level,
# coordinates as floats, no continent, and the subdivision as a name, not a code:
#   country_code            utf8_string  ISO 3166-1 alpha-2 code
#   state1                  utf8_string  first-level subdivision name ("California")
#   state2 city postcode timezone  utf8_string  always "" here
#   latitude longitude      float        degrees
#
# Loaded with `require`; it defines package GslbLayout and returns true.

package GslbLayout;

use strict;
use warnings;

use File::Basename qw(basename);
use MaxMind::DB::Writer::Tree;

# Every map key that can appear in a record, with its mmdb type. The writer asks for the type
# of each key it serialises; an unknown key is a bug in a builder, so it stops the build.
my %TYPE_OF = (
    country      => 'map',
    continent    => 'map',
    location     => 'map',
    names        => 'map',
    subdivisions => [ 'array', 'map' ],
    iso_code     => 'utf8_string',
    code         => 'utf8_string',
    en           => 'utf8_string',
    latitude     => 'double',
    longitude    => 'double',
);

# The type of a map key in a layout's table, or die naming the layout.
sub type_in {
    my ( $table, $what, $key ) = @_;
    my $type = $table->{$key};
    die "build-layout: no mmdb type for ${what}map key '$key'\n" unless defined $type;
    return $type;
}

sub key_type { return type_in( \%TYPE_OF, '', @_ ) }

# The same for the flat layout.
my %FLAT_TYPE_OF = (
    ( map { $_ => 'utf8_string' } qw(country_code state1 state2 city postcode timezone) ),
    latitude  => 'float',
    longitude => 'float',
);

sub flat_key_type { return type_in( \%FLAT_TYPE_OF, 'flat ', @_ ) }

# Builds one record from named fields; undefined fields are omitted. Coordinates are rounded to
# four decimals (about 11 m), which is far finer than country-level data deserves and keeps the
# stored doubles free of parsing noise.
sub record {
    my (%f) = @_;
    my %r;
    if ( defined $f{country} ) {
        $r{country} = { iso_code => $f{country} };
        $r{country}{names} = { en => $f{name} } if defined $f{name};
    }
    $r{continent} = { code => $f{continent} } if defined $f{continent};
    if ( defined $f{latitude} && defined $f{longitude} ) {
        $r{location} = {
            latitude  => 0 + sprintf( '%.4f', $f{latitude} ),
            longitude => 0 + sprintf( '%.4f', $f{longitude} ),
        };
    }
    $r{subdivisions} = [ { iso_code => $f{subdivision} } ] if defined $f{subdivision};
    return \%r;
}

# The same fields as a flat record. There is no continent; the subdivision is stored as given,
# in state1, where ip-location-db puts a name. The empty strings mirror its records.
sub flat_record {
    my (%f) = @_;
    my %r = map { $_ => '' } qw(state2 city postcode timezone);
    $r{country_code} = $f{country}     if defined $f{country};
    $r{state1}       = $f{subdivision} if defined $f{subdivision};
    if ( defined $f{latitude} && defined $f{longitude} ) {
        $r{latitude}  = 0 + sprintf( '%.4f', $f{latitude} );
        $r{longitude} = 0 + sprintf( '%.4f', $f{longitude} );
    }
    return \%r;
}

# Creates an empty tree (layout => 'flat' for flat records). IPv6 trees alias ::ffff:0:0/96 (and 6to4, Teredo) onto the IPv4
# space at ::/96, as MaxMind's own databases do, so an IPv4 lookup and an IPv4-mapped IPv6
# lookup find the same record. Reserved networks are not removed by the writer: the test
# databases need 127.0.0.0/8 and the documentation prefixes, and build-world filters special
# ranges itself.
sub new_tree {
    my (%opt) = @_;
    my $ip_version = $opt{ip_version} // 6;
    my $tree       = MaxMind::DB::Writer::Tree->new(
        ip_version               => $ip_version,
        record_size              => $opt{record_size} // 24,
        database_type            => $opt{database_type},
        description              => { en => $opt{description} },
        languages                => ['en'],
        map_key_type_callback    => ( $opt{layout} // '' ) eq 'flat' ? \&flat_key_type : \&key_type,
        merge_strategy           => 'none',
        remove_reserved_networks => 0,
        alias_ipv6_to_ipv4       => $ip_version == 6 ? 1 : 0,
    );

    # Reproducible builds: the build time in the metadata follows SOURCE_DATE_EPOCH when set.
    # The writer only offers a private setter for it, hence the guard.
    my $epoch = $ENV{SOURCE_DATE_EPOCH};
    if ( defined $epoch && $epoch =~ /^\d+$/ && $tree->can('_set_build_epoch') ) {
        $tree->_set_build_epoch($epoch);
    }
    return $tree;
}

# Writes the tree to PATH through a temporary file in the same directory, so an interrupted
# build never leaves a truncated database where make would take it for a finished one.
sub write_tree_atomic {
    my ( $tree, $path ) = @_;
    my $tmp = "$path.tmp.$$";
    open my $fh, '>:raw', $tmp or die "$path: cannot create $tmp: $!\n";
    my $ok = eval { $tree->write_tree($fh); 1 };
    my $err = $@;
    if ( !$ok || !close $fh ) {
        $err ||= "$!\n";
        unlink $tmp;
        die "$path: write failed: $err";
    }
    rename $tmp, $path or do { my $e = $!; unlink $tmp; die "$path: cannot rename $tmp: $e\n" };
    return;
}

# The program name for messages, e.g. "build-world".
sub prog { return basename($0) }

1;
