from mqlite import Attribute, FilterPolicy

policy = FilterPolicy({"store": ["example_corp"], "price_usd": [{"numeric": [">=", 100]}]})
policy.matches(attributes={"store": Attribute("String", "example_corp"),
                           "price_usd": Attribute("Number", "250")})        # True
