{#
  A fixed-width 128-bit key (UHUGEINT) for a string identifier, for the big group-bys and
  joins: the 64-character hex person_key and the HSA ids are stored out of line and hashed
  and compared as strings, a 16-byte integer is not. md5 of any string, so it works on test
  fixtures too. Two of 10^7 keys collide with probability ~n²/2^129 ≈ 10^-25: negligible, the
  same argument that makes the keyed hash person_key an identity.
#}
{% macro compact_key(expression) -%}
    md5_number({{ expression }})
{%- endmacro %}
