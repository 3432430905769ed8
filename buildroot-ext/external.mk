include $(sort $(wildcard $(BR2_EXTERNAL_MYMAP_PATH)/package/*/*.mk))
